"""The canonical request and events between inbound formats and vendor adapters.

Inbound formats (OpenAI, Anthropic, Gemini) decode into ``ChatRequest`` and encode ``Event``
values back; adapters turn ``ChatRequest`` into a vendor's wire format and yield ``Event`` values.
Nothing here is specific to one vendor, so N formats and M adapters cover N x M pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ChatRequest",
    "Event",
    "Finish",
    "ImagePart",
    "Message",
    "Part",
    "ReasoningDelta",
    "StreamError",
    "TextDelta",
    "TextPart",
    "ThinkingPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "UsageEvent",
]

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


# --- request -------------------------------------------------------------------------------


@dataclass
class TextPart:
    """Plain text inside a message."""

    text: str
    type: Literal["text"] = "text"
    cache_control: dict[str, Any] | None = None
    """Anthropic's prompt-caching marker (``{"type": "ephemeral"}``) set by an Anthropic-format client."""


@dataclass
class ImagePart:
    """An image: a remote ``url``, or base64 ``data`` with its ``media_type``.

    A ``data:`` URL is decoded into ``data`` and ``media_type`` by the inbound format.
    """

    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: str | None = None
    type: Literal["image"] = "image"
    cache_control: dict[str, Any] | None = None


@dataclass
class ThinkingPart:
    """Reasoning a model produced earlier; ``signature`` must go back to the vendor unchanged."""

    text: str
    signature: str | None = None
    redacted: bool = False
    type: Literal["thinking"] = "thinking"


Part = TextPart | ImagePart | ThinkingPart


@dataclass
class ToolCall:
    """A function call made by the model; ``arguments`` is the JSON text as the model wrote it."""

    id: str
    name: str
    arguments: str = ""


@dataclass
class Message:
    """One turn. ``tool`` messages carry ``tool_call_id`` and the result as parts."""

    role: Role
    content: list[Part] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    def text(self) -> str:
        """Return the text parts joined together."""
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


@dataclass
class Tool:
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache_control: dict[str, Any] | None = None


@dataclass
class ChatRequest:
    """A chat completion request, independent of any vendor's format.

    ``model`` is the name the client asked for; ``upstream_model`` is set by the scheduler after
    the channel's mapping. ``tool_choice`` is ``"auto"``, ``"none"``, ``"required"`` or a tool
    name. ``extra`` keeps fields of the inbound format that have no canonical meaning, so an
    adapter for the same format can pass them through.
    """

    model: str
    messages: list[Message]
    stream: bool = False
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: list[str] | None = None
    n: int | None = None
    seed: int | None = None
    tools: list[Tool] | None = None
    tool_choice: str | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    thinking_budget: int | None = None
    user: str | None = None
    include_usage: bool = False
    """Whether the client asked for usage in the stream (``stream_options.include_usage``)."""
    extra: dict[str, Any] = field(default_factory=dict)
    inbound_format: str = "openai"
    upstream_model: str | None = None

    @property
    def output_limit(self) -> int | None:
        """Return the client's output token limit under whichever name it used."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


# --- events --------------------------------------------------------------------------------


@dataclass
class TextDelta:
    """A piece of answer text for choice ``index``."""

    text: str
    index: int = 0


@dataclass
class ReasoningDelta:
    """A piece of reasoning text; a final ``signature`` closes a thinking block."""

    text: str = ""
    signature: str | None = None
    index: int = 0


@dataclass
class ToolCallDelta:
    """A piece of a tool call. The first delta of a call carries ``id`` and ``name``.

    ``tool_index`` counts tool calls within the choice (0, 1, ...), never content blocks.
    """

    tool_index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    index: int = 0


@dataclass
class Finish:
    """Choice ``index`` finished normally for ``reason``."""

    reason: FinishReason
    index: int = 0


@dataclass
class Usage:
    """Token counts of one request.

    ``input_tokens`` includes cached tokens (OpenAI's ``prompt_tokens``); ``cached_input_tokens``
    are cache reads and ``cache_write_tokens`` cache writes, both part of ``input_tokens``.
    ``output_tokens`` includes ``reasoning_tokens``. ``reported`` is False for an estimate.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    reported: bool = True

    @property
    def total_tokens(self) -> int:
        """Return input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass
class UsageEvent:
    """The vendor's usage report; a later report replaces an earlier one."""

    usage: Usage


@dataclass
class StreamError:
    """The upstream failed inside the stream. ``type`` follows OpenAI's error types."""

    message: str
    type: str = "upstream_error"
    code: str | None = None
    status: int | None = None


Event = TextDelta | ReasoningDelta | ToolCallDelta | Finish | UsageEvent | StreamError

CONTENT_EVENTS = (TextDelta, ReasoningDelta, ToolCallDelta)
"""Events that count as content: the first one is the stream's commit point."""
