"""The adapter for Azure OpenAI: deployments in the path, ``api-version``, the ``api-key`` header.

The deployment is the type setting ``deployments[model]`` when present; otherwise the model
name after the channel's mapping, with dots removed when no mapping renamed it (Azure
deployments are commonly named ``gpt-35-turbo-16k`` for ``gpt-3.5-turbo-16k``), so an
explicit mapping such as ``gpt-4o>prod-gpt4o`` always wins unchanged.

Chat Nio stored Azure keys as ``api-key|resource-url`` with the API version in the endpoint
field; such channels keep working.
"""

from __future__ import annotations

from typing import Any

from chatnio_host import UpstreamTarget

from chatnio_openai.adapter import OpenAIAdapter

__all__ = ["AZURE_SETTINGS_SCHEMA", "DEFAULT_API_VERSION", "AzureAdapter", "deployment_for"]

DEFAULT_API_VERSION = "2024-10-21"
USAGE_IN_STREAM_SINCE = "2024-09-01"
"""Azure accepts ``stream_options`` from this API version on; older versions reject it."""

AZURE_SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "api_version": {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}(-preview)?$",
            "description": "Azure OpenAI api-version query parameter, such as 2024-10-21.",
        },
        "deployments": {
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 1},
            "description": "Deployment name per model; other models use their name without dots.",
        },
        "stream_usage": {
            "type": "boolean",
            "description": "Send stream_options.include_usage (needs api_version 2024-09-01 or later).",
        },
        "max_completion_tokens_models": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Model name prefixes that take max_completion_tokens instead of max_tokens.",
        },
        "extra_headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Headers added to every upstream request.",
        },
    },
}


def deployment_for(model: str, settings: dict[str, Any], *, requested: str | None = None) -> str:
    """Return the Azure deployment name for the upstream ``model``."""
    deployments = settings.get("deployments") or {}
    if model in deployments:
        return str(deployments[model])
    if requested is not None and requested in deployments:
        return str(deployments[requested])
    if requested is not None and requested != model:
        return model
    return model.replace(".", "")


class AzureAdapter(OpenAIAdapter):
    """Azure OpenAI chat completions, embeddings and images through deployments."""

    supports_model_list = False

    def _legacy(self, target: UpstreamTarget) -> tuple[str, str, str | None]:
        """Return ``(key, resource URL, api version)``, reading Chat Nio's ``key|resource`` form."""
        key, separator, resource = target.key.strip().partition("|")
        endpoint = (target.endpoint or "").strip()
        if separator and resource.strip():
            version = endpoint if endpoint and not endpoint.lower().startswith("http") else None
            return key.strip(), resource.strip().rstrip("/"), version
        return key, endpoint.rstrip("/"), None

    def settings_for(self, target: UpstreamTarget) -> dict[str, Any]:
        """Return the settings, with ``api_version`` filled and usage only where Azure accepts it."""
        settings = super().settings_for(target)
        _, _, legacy_version = self._legacy(target)
        version = str((target.settings or {}).get("api_version") or legacy_version or settings.get("api_version")
                      or DEFAULT_API_VERSION)
        settings["api_version"] = version
        if "stream_usage" not in (target.settings or {}):
            settings["stream_usage"] = version >= USAGE_IN_STREAM_SINCE
        return settings

    def operation_url(self, target: UpstreamTarget, settings: dict[str, Any], operation: str, model: str,
                      requested: str | None = None) -> tuple[str, dict[str, str] | None]:
        """Return ``{resource}/openai/deployments/{deployment}/{operation}`` and the api-version."""
        _, resource, _ = self._legacy(target)
        deployment = deployment_for(model, settings, requested=requested)
        return f"{resource}/openai/deployments/{deployment}/{operation}", {"api-version": settings["api_version"]}

    def headers_for(self, target: UpstreamTarget, settings: dict[str, Any]) -> dict[str, str]:
        """Return the ``api-key`` header and the configured extra headers."""
        headers = {str(name): str(value) for name, value in (settings.get("extra_headers") or {}).items()}
        key, _, _ = self._legacy(target)
        if key:
            headers["api-key"] = key
        return headers
