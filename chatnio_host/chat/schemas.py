"""Request and response bodies of the web chat API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatPreferences",
    "ConversationPublic",
    "ConversationUpdate",
    "ConversationWithMessages",
    "ConversationsPublic",
    "ForkRequest",
    "MessageEdit",
    "MessagePublic",
    "MessagesPage",
    "PresetCreate",
    "PresetPublic",
    "PresetUpdate",
    "SendMessage",
    "ShareCreate",
    "SharePublic",
    "ShareSummary",
]


class ChatPreferences(BaseModel):
    """Generation preferences sent with each message."""

    model_config = ConfigDict(extra="forbid")

    context_length: int = Field(8, ge=1, le=500, description="How many earlier messages the model sees.")
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=1, le=1000)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)


class SendMessage(BaseModel):
    """A new user message and how to answer it."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field("", max_length=1_000_000)
    file_ids: list[str] = Field(default_factory=list, max_length=20)
    images: list[str] = Field(default_factory=list, max_length=10, description="Image URLs or data: URLs.")
    model: str = Field(..., min_length=1, max_length=128)
    search: bool = False
    preset_id: int | None = None
    preferences: ChatPreferences = Field(default_factory=ChatPreferences)


class MessagePublic(BaseModel):
    """A stored message."""

    id: int
    conversation_id: int
    role: str
    content: list[dict[str, Any]]
    text: str
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    sources: list[dict[str, Any]] | None = None
    model: str | None = None
    status: str
    error: str | None = None
    error_code: str | None = None
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    points: float | int = 0
    subscription: bool = False
    active: bool = True
    alternative_of: int | None = None
    created_at: dt.datetime


class MessagesPage(BaseModel):
    """Messages oldest first, and the cursor of the page before them (None at the start)."""

    messages: list[MessagePublic]
    before: int | None = None


class ConversationPublic(BaseModel):
    """A conversation in the sidebar."""

    id: int
    title: str
    model: str
    message_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ConversationsPublic(BaseModel):
    """A page of conversations, newest first."""

    data: list[ConversationPublic]
    total: int
    page: int
    size: int


class ConversationWithMessages(ConversationPublic):
    """A conversation with its last page of messages."""

    messages: list[MessagePublic]
    before: int | None = None


class ConversationUpdate(BaseModel):
    """Rename a conversation or change its model."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=255)
    model: str | None = Field(None, min_length=1, max_length=128)


class MessageEdit(BaseModel):
    """New text for a message, and whether to answer it again."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., max_length=1_000_000)
    regenerate: bool = False
    model: str | None = Field(None, max_length=128)
    preferences: ChatPreferences = Field(default_factory=ChatPreferences)


class ForkRequest(BaseModel):
    """Copy a conversation up to and including ``message_id`` into a new one."""

    model_config = ConfigDict(extra="forbid")

    message_id: int


class ShareCreate(BaseModel):
    """Share chosen messages of a conversation."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: int
    message_ids: list[int] = Field(..., min_length=1, max_length=2000)


class ShareSummary(BaseModel):
    """One share in the owner's list."""

    id: str
    title: str
    conversation_id: int | None
    message_count: int
    created_at: dt.datetime
    url: str


class SharePublic(BaseModel):
    """A share as anyone with the link sees it: no user ids, no emails."""

    id: str
    title: str
    model: str
    messages: list[dict[str, Any]]
    created_at: dt.datetime


class PresetCreate(BaseModel):
    """A new preset."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=64)
    avatar: str = Field("", max_length=512)
    description: str = Field("", max_length=4000)
    context: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    model: str | None = Field(None, max_length=128)
    parameters: dict[str, Any] = Field(default_factory=dict)


class PresetUpdate(BaseModel):
    """Changes to a preset."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=64)
    avatar: str | None = Field(None, max_length=512)
    description: str | None = Field(None, max_length=4000)
    context: list[dict[str, Any]] | None = Field(None, max_length=200)
    model: str | None = Field(None, max_length=128)
    parameters: dict[str, Any] | None = None


class PresetPublic(BaseModel):
    """A preset; built-in ones have ``builtin`` set and a string id."""

    id: int | str
    name: str
    avatar: str
    description: str
    context: list[dict[str, Any]]
    model: str | None
    parameters: dict[str, Any]
    builtin: bool = False


ContextRole = Literal["system", "user", "assistant"]
