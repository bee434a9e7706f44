"""Tool parameter schemas checked once, for every adapter that converts tools.

A tool without parameters gets the empty object schema, so vendors that require one (Anthropic's
``input_schema``) still see the tool. A schema that is not a valid JSON Schema object is a 400
naming the tool, never a tool silently dropped from the request.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from chatnio_host.channels.base import UpstreamFailure
from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import Tool

__all__ = ["EMPTY_OBJECT_SCHEMA", "request_failure", "tool_parameters"]

EMPTY_OBJECT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def tool_parameters(tool: Tool, index: int) -> dict[str, Any]:
    """Return ``tool``'s parameter schema as an object schema, or raise ``InvalidRequest``.

    ``None`` and ``{}`` become ``{"type": "object", "properties": {}}``; a schema without a
    ``type`` but with ``properties`` gets ``"type": "object"``.
    """
    param = f"tools[{index}].function.parameters"
    schema = tool.parameters
    if schema is None or schema == {}:
        return dict(EMPTY_OBJECT_SCHEMA)
    if not isinstance(schema, dict):
        raise InvalidRequest(
            f"The parameters of tool {tool.name!r} must be a JSON Schema object, not {type(schema).__name__}.",
            param=param,
        )
    schema = dict(schema)
    if "type" not in schema:
        schema["type"] = "object"
    if schema.get("type") != "object":
        message = f"The parameters of tool {tool.name!r} must be a schema of type 'object', not {schema['type']!r}."
        raise InvalidRequest(message, param=param)
    if not isinstance(schema.get("properties", {}), dict):
        raise InvalidRequest(f"The 'properties' of tool {tool.name!r} must be an object.", param=param)
    try:
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator.check_schema(schema)
    except SchemaError as exc:
        location = "/".join(str(part) for part in exc.path) or "(root)"
        message = f"The parameters of tool {tool.name!r} are not a valid JSON Schema at {location}: {exc.message}."
        raise InvalidRequest(message, param=param) from exc
    schema.setdefault("properties", {})
    return schema


def request_failure(error: InvalidRequest) -> UpstreamFailure:
    """Return an adapter's conversion error as a ``request`` failure.

    The relay passes such a failure to the client as a 400 without trying another channel,
    whereas any other exception from an adapter counts as a broken attempt and falls through.
    """
    return UpstreamFailure("request", error.message, status=400, type="invalid_request_error", param=error.param)
