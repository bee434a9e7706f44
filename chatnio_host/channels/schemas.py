"""Request and response bodies of the channel admin API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChannelCreate",
    "ChannelKeyOut",
    "ChannelOut",
    "ChannelTestIn",
    "ChannelTestOut",
    "ChannelTypeOut",
    "ChannelUpdate",
    "KeyTestOut",
    "ModelsFetchIn",
    "ModelsTemplateIn",
    "UpstreamModelsIn",
    "UpstreamModelsOut",
]

KeysValue = str | list[str]
"""Keys as one string with a key per line, or as a list."""
ModelsValue = str | list[str]
"""Model names as a list, or one string separated by commas or newlines."""
MappingValue = str | dict[str, str]
"""Mapping lines ``from>to`` (``!from>to`` hides ``to``), or an object of source to target."""


class ChannelFields(BaseModel):
    """Fields shared by create and update."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=128, description="Display name.")
    type: str | None = Field(None, max_length=64, description="A registered channel type, such as openai.")
    endpoint: str | None = Field(
        None, max_length=1024, description="Upstream base URL; empty uses the type's default endpoint."
    )
    keys: KeysValue | None = Field(
        None,
        description=(
            "Vendor keys, one per line; lines are trimmed and blank lines dropped. A masked line "
            "such as ****abcd keeps the saved key it stands for."
        ),
    )
    models: ModelsValue | None = Field(None, description="Model names this channel serves.")
    mapping: MappingValue | None = Field(None, description="Model mapping; cycles are rejected.")
    priority: int | None = Field(
        None, ge=-1_000_000, le=1_000_000, description="Higher tiers are tried first; may be negative."
    )
    weight: int | None = Field(
        None, le=1_000_000, description="Share inside a priority tier; values <= 0 count as 1."
    )
    retry: int | None = Field(
        None, le=100, description="Attempts per request on this channel (at most 100); values <= 0 count as 1."
    )
    groups: list[str] | None = Field(
        None, description="User groups served (anonymous, normal, basic, standard, pro); empty serves all."
    )
    enabled: bool | None = None
    proxy: str | None = Field(None, max_length=1024, description="http, https or socks5 proxy URL; empty for none.")
    settings: dict[str, Any] | None = Field(None, description="Type-specific settings, checked against the type's schema.")


class ChannelCreate(ChannelFields):
    """A new channel; ``name``, ``type`` and ``keys`` are required."""

    name: str = Field(..., min_length=1, max_length=128, description="Display name.")
    type: str = Field(..., min_length=1, max_length=64, description="A registered channel type, such as openai.")
    keys: KeysValue = Field(..., description="Vendor keys, one per line.")


class ChannelUpdate(ChannelFields):
    """A change to a channel; fields left out keep their value."""


class ChannelKeyOut(BaseModel):
    """One vendor key, masked, with its state."""

    index: int
    masked: str
    enabled: bool
    cooling_down: bool = False
    cooldown_until: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None


class ChannelTestResult(BaseModel):
    """The stored result of the last channel test."""

    at: dt.datetime | None = None
    ok: bool | None = None
    latency_ms: int | None = None
    message: str | None = None


class ChannelOut(BaseModel):
    """A channel as admins see it; keys are masked."""

    id: int
    name: str
    type: str
    endpoint: str
    keys: list[ChannelKeyOut]
    models: list[str]
    mapping: str
    served_models: list[str] = Field(description="Models requests can name: models and mapping sources, minus hidden ones.")
    priority: int
    weight: int
    retry: int
    groups: list[str]
    enabled: bool
    proxy: str | None
    settings: dict[str, Any]
    last_test: ChannelTestResult
    created_at: dt.datetime
    updated_at: dt.datetime


class ChannelTypeOut(BaseModel):
    """A registered channel type."""

    name: str
    label: str
    description: str
    default_endpoint: str
    template_models: list[str]
    settings_schema: dict[str, Any]


class ChannelTestIn(BaseModel):
    """Options of a channel test."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="Model to test; defaults to the channel's first model.")


class KeyTestOut(BaseModel):
    """The result of one key in a channel test."""

    index: int
    masked: str
    ok: bool
    latency_ms: int
    message: str
    was_enabled: bool
    enabled: bool


class ChannelTestOut(BaseModel):
    """The result of a channel test: the channel's verdict and each key tried."""

    ok: bool
    model: str
    latency_ms: int | None
    message: str
    keys: list[KeyTestOut]


class ModelsFetchIn(BaseModel):
    """Options of an upstream model fetch: the mode of change to the channel's list."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["replace", "merge", "preview"] = Field(
        "replace", description="replace the list, merge into it, or only return the upstream's models."
    )


class ModelsTemplateIn(BaseModel):
    """Options of applying the type's template models: replace or merge."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["replace", "merge"] = "replace"


class UpstreamModelsIn(BaseModel):
    """An unsaved channel's connection, to list the upstream's models before creating it."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(..., min_length=1, max_length=64)
    endpoint: str | None = Field(None, max_length=1024)
    keys: KeysValue = Field(..., description="Vendor keys, one per line; the first is used.")
    settings: dict[str, Any] | None = None
    proxy: str | None = Field(None, max_length=1024)


class UpstreamModelsOut(BaseModel):
    """The model ids an upstream lists."""

    models: list[str]


class ModelsFetchOut(BaseModel):
    """The upstream's models and the channel after the change."""

    upstream_models: list[str]
    channel: ChannelOut
