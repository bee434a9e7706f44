"""Chat Nio plugin for OpenAI: the ``openai`` and ``azure`` channel types and OpenAI-compatible presets."""

from __future__ import annotations

from typing import Any

from chatnio_host import ChannelType, hookimpl

from chatnio_openai.adapter import DEFAULT_ENDPOINT, SETTINGS_SCHEMA, OpenAIAdapter
from chatnio_openai.azure import AZURE_SETTINGS_SCHEMA, AzureAdapter
from chatnio_openai.presets import load_presets

__all__ = ["AzureAdapter", "OpenAIAdapter", "TEMPLATE_MODELS", "channel_types", "register_channel_types"]

__version__ = "0.1.0"

TEMPLATE_MODELS: tuple[str, ...] = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o3-mini",
    "o4-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "dall-e-3",
)

AZURE_TEMPLATE_MODELS: tuple[str, ...] = ("gpt-4o", "gpt-4o-mini", "gpt-35-turbo", "text-embedding-3-small")


def channel_types() -> list[ChannelType]:
    """Return every channel type this plugin registers: openai, azure, then the presets."""
    types = [
        ChannelType(
            name="openai",
            adapter=OpenAIAdapter,
            label="OpenAI",
            settings_schema=SETTINGS_SCHEMA,
            template_models=TEMPLATE_MODELS,
            default_endpoint=DEFAULT_ENDPOINT,
            description="OpenAI or any OpenAI-compatible base URL; the key is sent as a Bearer token.",
        ),
        ChannelType(
            name="azure",
            adapter=AzureAdapter,
            label="Azure OpenAI",
            settings_schema=AZURE_SETTINGS_SCHEMA,
            template_models=AZURE_TEMPLATE_MODELS,
            default_endpoint="",
            description="Azure OpenAI: endpoint is the resource URL, such as https://NAME.openai.azure.com; "
                        "the key is sent as api-key.",
        ),
    ]
    types.extend(load_presets())
    return types


@hookimpl
def register_channel_types(register: Any) -> None:
    """Register the ``openai`` and ``azure`` channel types and each OpenAI-compatible preset."""
    for channel_type in channel_types():
        register(channel_type)
