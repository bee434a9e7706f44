"""Normalisation and checks of channel fields before they are saved."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from chatnio_host.channels.crypto import mask_key
from chatnio_host.errors import InvalidRequest
from chatnio_host.registry import ChannelType

__all__ = [
    "USER_GROUPS",
    "check_groups",
    "channel_type_for",
    "check_settings",
    "keep_masked_settings",
    "mask_proxy",
    "mask_settings",
    "normalize_endpoint",
    "normalize_models",
    "normalize_proxy",
    "secret_setting_names",
    "split_keys",
]

logger = logging.getLogger(__name__)

USER_GROUPS = ("anonymous", "normal", "basic", "standard", "pro")
PROXY_SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")
MODEL_NAME_LIMIT = 255


def channel_type_for(types: Mapping[str, ChannelType], name: str) -> ChannelType:
    """Return the registered type ``name``, or raise 400 naming the registered types."""
    channel_type = types.get(name)
    if channel_type is None:
        registered = ", ".join(sorted(types)) or "none (install a vendor plugin such as chatnio-openai)"
        raise InvalidRequest(
            f"Unknown channel type {name!r}. Registered types: {registered}.", param="type", code="unknown_channel_type"
        )
    return channel_type


def split_keys(value: str | Iterable[str]) -> list[str]:
    """Return the keys of ``value``: one per line, trimmed, blank lines and repeats dropped."""
    lines = value.splitlines() if isinstance(value, str) else [
        line for item in value for line in str(item).splitlines()
    ]
    keys: list[str] = []
    for line in lines:
        key = line.strip()
        if key and key not in keys:
            keys.append(key)
    return keys


def normalize_models(value: str | Iterable[str]) -> list[str]:
    """Return model names from a list or a comma- or newline-separated string, trimmed and unique."""
    items = re.split(r"[,\n]", value) if isinstance(value, str) else list(value)
    models: list[str] = []
    for item in items:
        name = str(item).strip()
        if not name or name in models:
            continue
        if len(name) > MODEL_NAME_LIMIT or any(char.isspace() for char in name):
            raise InvalidRequest(
                f"Model name {name[:60]!r} is invalid: use at most {MODEL_NAME_LIMIT} characters without spaces.",
                param="models",
            )
        models.append(name)
    return models


def normalize_endpoint(value: str | None, channel_type: ChannelType) -> str:
    """Return the endpoint without a trailing slash; empty falls back to the type's default."""
    endpoint = (value or "").strip().rstrip("/") or channel_type.default_endpoint.rstrip("/")
    if not endpoint:
        raise InvalidRequest(
            f"Channel type {channel_type.name!r} has no default endpoint; set endpoint to the upstream's base URL.",
            param="endpoint",
        )
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(
            f"Endpoint {endpoint!r} is not an http or https URL; write it like https://api.example.com.",
            param="endpoint",
        )
    return endpoint


def normalize_proxy(value: str | None) -> str | None:
    """Return the proxy URL, or None for an empty value."""
    proxy = (value or "").strip()
    if not proxy:
        return None
    parts = urlsplit(proxy)
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        raise InvalidRequest(
            f"Proxy URL scheme {parts.scheme or '(none)'!r} is not supported; use one of "
            f"{', '.join(PROXY_SCHEMES)}, like socks5://127.0.0.1:1080.",
            param="proxy",
        )
    return proxy


def mask_proxy(proxy: str | None) -> str | None:
    """Return the proxy URL with its password replaced by ``****``."""
    if not proxy:
        return proxy
    parts = urlsplit(proxy)
    if parts.password is None:
        return proxy
    netloc = f"{parts.username or ''}:****@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def check_groups(groups: Iterable[str]) -> list[str]:
    """Return the unique groups, or raise 400 naming an unknown one."""
    result: list[str] = []
    for group in groups:
        name = group.strip()
        if name not in USER_GROUPS:
            raise InvalidRequest(
                f"User group {group!r} is unknown; use any of {', '.join(USER_GROUPS)}, or none to serve everyone.",
                param="groups",
            )
        if name not in result:
            result.append(name)
    return result


def secret_setting_names(channel_type: ChannelType) -> set[str]:
    """Return the top-level settings marked ``writeOnly`` or ``format: password`` in the type's schema."""
    properties = (channel_type.settings_schema or {}).get("properties") or {}
    return {
        name
        for name, spec in properties.items()
        if isinstance(spec, dict) and (spec.get("writeOnly") is True or spec.get("format") == "password")
    }


def mask_settings(settings: dict[str, Any], channel_type: ChannelType | None) -> dict[str, Any]:
    """Return ``settings`` with secret string values masked to their last four characters."""
    if channel_type is None:
        return dict(settings)
    secret = secret_setting_names(channel_type)
    return {
        name: mask_key(value) if name in secret and isinstance(value, str) else value
        for name, value in settings.items()
    }


def keep_masked_settings(
    given: dict[str, Any], stored: dict[str, Any], channel_type: ChannelType
) -> dict[str, Any]:
    """Return ``given`` with each secret value that equals its stored value's mask put back to the stored value."""
    result = dict(given)
    for name in secret_setting_names(channel_type):
        value, saved = result.get(name), stored.get(name)
        if isinstance(value, str) and isinstance(saved, str) and value == mask_key(saved):
            result[name] = saved
    return result


def check_settings(settings: dict[str, Any], channel_type: ChannelType) -> dict[str, Any]:
    """Validate ``settings`` against the type's JSON Schema; raise 400 naming the first error's field."""
    schema = channel_type.settings_schema or {}
    if not schema:
        return dict(settings)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        logger.exception("channel type %s has an invalid settings schema", channel_type.name)
        raise
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(settings), key=lambda error: list(error.absolute_path))
    if errors:
        error = errors[0]
        path = ".".join(str(part) for part in error.absolute_path)
        field = f"settings.{path}" if path else "settings"
        raise InvalidRequest(
            f"Invalid {field} for channel type {channel_type.name!r}: {error.message}.", param=field
        )
    return dict(settings)
