"""The contract between the host and a vendor adapter.

An adapter turns a canonical ``ChatRequest`` into one vendor's wire format, sends it through the
host's upstream client, and yields canonical events. It never manages connection pools, proxies,
timeouts or secret masking: ``UpstreamHTTP`` does that for every adapter.

Before its first content event an adapter reports failure by raising ``UpstreamFailure``; the
scheduler then decides, from ``kind``, whether to try another key or channel. After the first
content event it yields ``StreamError`` (or raises; the host turns that into a stream error).
"""

from __future__ import annotations

import abc
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from chatnio_host.relay.canonical import ChatRequest, Event, StreamError

__all__ = [
    "ChannelAdapter",
    "FailureKind",
    "SSEEvent",
    "UpstreamFailure",
    "UpstreamHTTP",
    "UpstreamResponse",
    "UpstreamStream",
    "UpstreamTarget",
]

logger = logging.getLogger(__name__)

FailureKind = Literal[
    "connect",      # could not connect, or the connection broke before an answer
    "timeout",      # no first byte within the first-byte timeout
    "auth",         # 401/403: the key is bad; disable that key
    "not_found",    # 404: this channel lacks the model
    "rate_limit",   # 429: cool the key down for retry_after seconds
    "server",       # 408, 5xx, overloaded, an in-stream error before content
    "request",      # 400/413/422, content policy: the request itself is at fault; pass through
    "invalid",      # the upstream answered something unparsable
]

RETRYABLE_KINDS: frozenset[str] = frozenset(
    {"connect", "timeout", "auth", "not_found", "rate_limit", "server", "invalid"}
)


class UpstreamFailure(Exception):
    """An attempt failed before any content reached the client.

    ``message`` must already be safe to show: ``UpstreamHTTP`` masks URLs and keys in the
    messages it builds, and adapters build theirs from the vendor's error body through it.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether another key or channel may succeed where this attempt failed."""
        return self.kind in RETRYABLE_KINDS

    def __repr__(self) -> str:
        return f"UpstreamFailure({self.kind!r}, {self.message!r}, status={self.status})"


@dataclass
class UpstreamTarget:
    """One attempt's destination: the channel, its endpoint, one key, and its settings.

    ``model`` is the upstream model name after the channel's mapping.
    """

    channel_id: int
    channel_type: str
    endpoint: str
    key: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    proxy: str | None = None
    channel_name: str = ""


@dataclass
class SSEEvent:
    """One server-sent event: ``event`` name (None for unnamed), joined ``data`` and ``id``."""

    data: str
    event: str | None = None
    id: str | None = None


@dataclass
class UpstreamResponse:
    """A complete upstream answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Parse the body as JSON; raises ``UpstreamFailure('invalid')`` when it is not JSON."""
        import json

        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise UpstreamFailure("invalid", "The upstream answered with a body that is not JSON.",
                                  status=self.status) from exc


class UpstreamStream(Protocol):
    """An upstream answer whose body is read as server-sent events."""

    status: int
    headers: dict[str, str]

    def events(self) -> AsyncIterator[SSEEvent]:
        """Yield events as they arrive, enforcing the idle timeout and the event size cap."""
        ...

    async def read(self) -> bytes:
        """Read the whole body (for error answers)."""
        ...


class UpstreamHTTP(Protocol):
    """The host's upstream client, shared by every adapter of a process.

    ``request`` and ``stream`` raise ``UpstreamFailure`` for connect errors and first-byte
    timeouts; they return non-2xx answers so the adapter can read the vendor's error body and
    call ``failure_from_status``.
    """

    async def request(
        self,
        method: str,
        url: str,
        target: UpstreamTarget,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        data: Any = None,
    ) -> UpstreamResponse:
        """Send one request and read the whole answer."""
        ...

    def stream(
        self,
        method: str,
        url: str,
        target: UpstreamTarget,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Return an async context manager that yields an ``UpstreamStream``."""
        ...

    def sanitize(self, text: str, target: UpstreamTarget) -> str:
        """Replace the endpoint with ``channel://<id>`` and mask keys in ``text``."""
        ...

    def failure_from_status(
        self, status: int, message: str, target: UpstreamTarget, *, headers: dict[str, str] | None = None,
        type: str | None = None, code: str | None = None, param: str | None = None,
    ) -> UpstreamFailure:
        """Classify an HTTP error answer into an ``UpstreamFailure`` with a sanitised message."""
        ...


class ChannelAdapter(abc.ABC):
    """Talks to one vendor. One instance serves every channel of its type in a process.

    Capability flags let the host reject a request with a precise message before any call.
    """

    supports_tools: ClassVar[bool] = True
    supports_vision: ClassVar[bool] = True
    supports_embeddings: ClassVar[bool] = False
    supports_images: ClassVar[bool] = False
    supports_model_list: ClassVar[bool] = False

    def __init__(self, http: UpstreamHTTP) -> None:
        self.http = http

    @abc.abstractmethod
    def chat(self, request: ChatRequest, target: UpstreamTarget) -> AsyncIterator[Event]:
        """Send a chat request and yield canonical events.

        Called as an async generator. ``request.stream`` says whether the client streams; the
        adapter may stream from the vendor either way. It always asks the vendor for usage.
        """

    def decode_step(self, step: Callable[[], list[Event]], target: UpstreamTarget) -> list[Event]:
        """Run one decoder step, masking endpoints and keys in any failure or error it produces."""
        try:
            events = step()
        except UpstreamFailure as failure:
            failure.message = self.http.sanitize(failure.message, target)
            failure.args = (failure.message,)
            logger.info("%s channel %s failed before content: %s", target.channel_type, target.channel_id, failure.kind)
            raise
        for event in events:
            if isinstance(event, StreamError):
                event.message = self.http.sanitize(event.message, target)
        return events

    def parse_event(self, data: str, target: UpstreamTarget, *, content_started: bool) -> dict[str, Any] | None:
        """Parse one stream event's JSON object.

        Before content an unparsable event fails the attempt (``UpstreamFailure('invalid')``), so
        the next channel is tried; after content it is skipped and None is returned.
        """
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
        logger.warning("%s channel %s sent a stream event that is not a JSON object", target.channel_type,
                       target.channel_id)
        if not content_started:
            raise UpstreamFailure("invalid", "The upstream sent a stream event that is not JSON.")
        return None

    async def embeddings(self, body: dict[str, Any], target: UpstreamTarget) -> dict[str, Any]:
        """Return an OpenAI-shaped embeddings answer for the OpenAI-shaped ``body``."""
        raise NotImplementedError

    async def images(self, body: dict[str, Any], target: UpstreamTarget) -> dict[str, Any]:
        """Return an OpenAI-shaped image generation answer for the OpenAI-shaped ``body``."""
        raise NotImplementedError

    async def list_models(self, target: UpstreamTarget) -> list[str]:
        """Return the model ids the upstream offers."""
        raise NotImplementedError
