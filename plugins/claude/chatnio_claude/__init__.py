"""Chat Nio plugin for Anthropic: the ``claude`` channel type and the ``/v1/messages`` format."""

from __future__ import annotations

from typing import Any

from chatnio_host import ChannelType, InboundFormat, hookimpl

from chatnio_claude.adapter import DEFAULT_ENDPOINT, SETTINGS_SCHEMA, ClaudeAdapter

__all__ = ["ClaudeAdapter", "TEMPLATE_MODELS", "register_channel_types", "register_inbound_formats"]

__version__ = "0.1.0"

TEMPLATE_MODELS: tuple[str, ...] = (
    "claude-opus-4-1",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-3-7-sonnet-latest",
    "claude-3-5-haiku-latest",
)


@hookimpl
def register_channel_types(register: Any) -> None:
    """Register the ``claude`` channel type."""
    register(
        ChannelType(
            name="claude",
            adapter=ClaudeAdapter,
            label="Anthropic Claude",
            settings_schema=SETTINGS_SCHEMA,
            template_models=TEMPLATE_MODELS,
            default_endpoint=DEFAULT_ENDPOINT,
            description="Anthropic's Messages API; the key is sent as x-api-key.",
        )
    )


@hookimpl
def register_inbound_formats(register: Any) -> None:
    """Register the Anthropic Messages format (``POST /v1/messages``)."""
    from chatnio_claude.routes import mount

    register(
        InboundFormat(
            name="anthropic",
            mount=mount,
            description="Anthropic Messages API: POST /v1/messages and /v1/messages/count_tokens.",
        )
    )
