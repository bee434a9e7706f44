"""Chat Nio plugin for Google Gemini: the ``gemini`` channel type and the ``/v1beta`` format."""

from __future__ import annotations

from typing import Any

from chatnio_host import ChannelType, InboundFormat, hookimpl

from chatnio_gemini.adapter import DEFAULT_ENDPOINT, SETTINGS_SCHEMA, GeminiAdapter

__all__ = ["GeminiAdapter", "TEMPLATE_MODELS", "register_channel_types", "register_inbound_formats"]

__version__ = "0.1.0"

TEMPLATE_MODELS: tuple[str, ...] = (
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-2.0-flash",
)


@hookimpl
def register_channel_types(register: Any) -> None:
    """Register the ``gemini`` channel type."""
    register(
        ChannelType(
            name="gemini",
            adapter=GeminiAdapter,
            label="Google Gemini",
            settings_schema=SETTINGS_SCHEMA,
            template_models=TEMPLATE_MODELS,
            default_endpoint=DEFAULT_ENDPOINT,
            description="Gemini API generateContent; the key is sent as x-goog-api-key, never in the URL.",
        )
    )


@hookimpl
def register_inbound_formats(register: Any) -> None:
    """Register the Gemini format (``/v1beta/models/{model}:generateContent`` and friends)."""
    from chatnio_gemini.routes import mount

    register(
        InboundFormat(
            name="gemini",
            mount=mount,
            description="Gemini API: POST /v1beta/models/{model}:generateContent, :streamGenerateContent, "
                        ":countTokens, GET /v1beta/models.",
        )
    )
