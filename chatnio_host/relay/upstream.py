"""The host's upstream HTTP client on the relay path, built on aiohttp.

One ``aiohttp.ClientSession`` per process carries every adapter's calls: TLS is verified, a
channel's proxy goes on each request, and the relay timeouts apply:

* ``first_byte_timeout``: from sending the request until the response headers and, for a
  stream, its first event; past it ``UpstreamFailure("timeout")`` is raised so the scheduler
  tries the next channel.
* ``idle_timeout``: the longest gap between two events of a stream after the first; comment
  lines (keep-alive pings) do not reset it.
* ``max_stream_duration``: the longest a stream may last in total.

``sanitize`` and ``failure_from_status`` turn vendor errors into messages safe to show: the
endpoint becomes ``channel://<id>`` and keys are masked (``chatnio_host.relay.masking``).
"""

from __future__ import annotations

import asyncio
import email.utils
import json as jsonlib
import logging
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import aiohttp

from chatnio_host.channels.base import SSEEvent, UpstreamFailure, UpstreamResponse, UpstreamTarget
from chatnio_host.config import Settings
from chatnio_host.relay import masking
from chatnio_host.relay.sse import SSEError, SSEParser
from chatnio_host.version import __version__

__all__ = [
    "AiohttpStream",
    "AiohttpUpstream",
    "MAX_RESPONSE_BYTES",
    "classify_status",
    "parse_error_body",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""Largest non-streamed upstream body read into memory (generated images can be several MB)."""

DRAIN_SECONDS = 0.05
DRAIN_BYTES = 64 * 1024
"""Limits on reading the rest of a body after the caller stopped, to keep its connection."""

MAX_ERROR_BODY_BYTES = 64 * 1024
"""Largest error body kept from a failed stream; the rest is dropped."""

_CONTENT_POLICY_CODES = frozenset({"content_policy_violation", "content_filter", "content_filtered",
                                   "moderation_blocked", "data_inspection_failed"})
_REQUEST_STATUSES = frozenset({400, 413, 422})
_AUTH_STATUSES = frozenset({401, 402, 403})


def parse_retry_after(headers: dict[str, str] | None, now: float | None = None) -> float | None:
    """Return the ``Retry-After`` (or ``retry-after-ms``) delay in seconds, or None."""
    if not headers:
        return None
    lowered = {name.lower(): value for name, value in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (now if now is not None else time.time()))


def classify_status(status: int, *, type: str | None = None, code: str | None = None) -> str:
    """Return the failure kind of an HTTP error status (see ``FailureKind``)."""
    markers = {str(type or "").lower(), str(code or "").lower()}
    if markers & _CONTENT_POLICY_CODES:
        return "request"
    if status == 429 and "insufficient_quota" in markers:
        # OpenAI returns 429 insufficient_quota when the account behind the key has no credit.
        return "auth"
    if status in _AUTH_STATUSES:
        return "auth"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limit"
    if status in _REQUEST_STATUSES:
        return "request"
    return "server"


def parse_error_body(body: bytes | str) -> tuple[str, str | None, str | None, str | None]:
    """Return ``(message, type, code, param)`` from a vendor error body of any common shape.

    Understood: ``{"error": {"message", "type", "code", "param"}}`` (OpenAI, Azure, Anthropic's
    inner object), ``{"error": "text"}``, ``{"message": ...}`` and ``{"detail": ...}``. Anything
    else gives its text, cut to 1,000 characters.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        payload = jsonlib.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, str):
            return error, None, None, None
        if isinstance(error, dict):
            message = error.get("message") or error.get("msg") or error.get("detail") or payload.get("message")
            if message is not None:
                return (str(message), _optional_str(error.get("type") or error.get("status")),
                        _optional_str(error.get("code")), _optional_str(error.get("param")))
    stripped = text.strip()
    return (stripped[:1000] if stripped else ""), None, None, None


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _lower_headers(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


class AiohttpStream:
    """An open streaming response; ``events()`` parses its body as server-sent events."""

    def __init__(self, upstream: AiohttpUpstream, response: aiohttp.ClientResponse, target: UpstreamTarget,
                 started: float) -> None:
        self._upstream = upstream
        self._response = response
        self._target = target
        self._started = started
        self.status = response.status
        self.headers = _lower_headers(response.headers)
        self.complete = False
        self.event_count = 0

    async def read(self, limit: int = MAX_ERROR_BODY_BYTES) -> bytes:
        """Read the whole body (an error response), keeping at most ``limit`` bytes of it (64 KiB)."""
        settings = self._upstream.settings
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(settings.idle_timeout):
                async for chunk in self._response.content.iter_any():
                    if size < limit:
                        chunks.append(chunk[:limit - size])
                    size += len(chunk)
        except TimeoutError:
            logger.warning("channel %s: reading the error body timed out", self._target.channel_id)
        except aiohttp.ClientError as exc:
            logger.warning("channel %s: reading the error body failed: %s", self._target.channel_id,
                           self._upstream.sanitize(str(exc), self._target))
        self.complete = True
        return b"".join(chunks)

    async def events(self) -> AsyncIterator[SSEEvent]:
        """Yield events as they arrive, enforcing the first-byte, idle and duration limits.

        Raises ``UpstreamFailure``: ``timeout`` when a limit passes, ``connect`` when the
        connection breaks, ``invalid`` when the body is not valid SSE or an event is too large.
        """
        settings = self._upstream.settings
        loop = asyncio.get_running_loop()
        parser = SSEParser(settings.sse_max_event_bytes)
        stream_deadline = self._started + settings.max_stream_duration
        deadline = min(self._started + settings.first_byte_timeout, stream_deadline)
        content = self._response.content

        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await content.readany()
            except TimeoutError:
                raise self._timeout(deadline >= stream_deadline) from None
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
                raise self._broken(exc) from exc
            if not chunk:
                break
            try:
                events = parser.feed(chunk)
            except SSEError as exc:
                raise self._invalid(exc) from exc
            for event in events:
                self.event_count += 1
                yield event
            if events:
                deadline = min(loop.time() + settings.idle_timeout, stream_deadline)

        self.complete = True
        try:
            tail = parser.close()
        except SSEError as exc:
            raise self._invalid(exc) from exc
        for event in tail:
            self.event_count += 1
            yield event

    def _timeout(self, whole_stream: bool) -> UpstreamFailure:
        settings = self._upstream.settings
        channel = self._target.channel_id
        if whole_stream:
            message = f"The upstream stream of channel://{channel} exceeded max_stream_duration ({settings.max_stream_duration:g} s)."
        elif self.event_count == 0:
            message = f"channel://{channel} sent no event within first_byte_timeout ({settings.first_byte_timeout:g} s)."
        else:
            message = f"channel://{channel} sent nothing for idle_timeout ({settings.idle_timeout:g} s) mid-stream."
        logger.warning("channel %s: stream timed out after %d events: %s", channel, self.event_count, message)
        return UpstreamFailure("timeout", message, status=self.status)

    def _broken(self, exc: BaseException) -> UpstreamFailure:
        reason = self._upstream.sanitize(str(exc) or type(exc).__name__, self._target)
        message = f"The connection to channel://{self._target.channel_id} broke mid-stream: {reason}"
        logger.warning("channel %s: stream broke after %d events: %s", self._target.channel_id, self.event_count,
                       reason)
        return UpstreamFailure("connect", message, status=self.status)

    def _invalid(self, exc: SSEError) -> UpstreamFailure:
        message = f"channel://{self._target.channel_id} sent an invalid stream: {exc}"
        logger.warning("channel %s: %s", self._target.channel_id, message)
        return UpstreamFailure("invalid", message, status=self.status)

    async def drain(self) -> None:
        """Read what little is left of a body the caller stopped reading (the terminator after ``[DONE]``).

        The connection goes back to the pool only when the body ends within ``DRAIN_SECONDS`` and
        ``DRAIN_BYTES``; a vendor that holds the socket open after its last event is cut off.
        """
        if self.complete:
            return
        remaining = DRAIN_BYTES
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                while remaining > 0:
                    chunk = await self._response.content.readany()
                    if not chunk:
                        self.complete = True
                        return
                    remaining -= len(chunk)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return

    def close(self) -> None:
        """Release a fully read connection to the pool, or close an unfinished one."""
        if self.complete:
            self._response.release()
        else:
            self._response.close()


class _StreamContext:
    """``async with upstream.stream(...) as stream``: sends the request on enter, closes on exit."""

    def __init__(self, upstream: AiohttpUpstream, method: str, url: str, target: UpstreamTarget,
                 kwargs: dict[str, Any]) -> None:
        self._upstream = upstream
        self._method = method
        self._url = url
        self._target = target
        self._kwargs = kwargs
        self._stream: AiohttpStream | None = None

    async def __aenter__(self) -> AiohttpStream:
        started = asyncio.get_running_loop().time()
        response = await self._upstream._send(self._method, self._url, self._target, started, **self._kwargs)
        self._stream = AiohttpStream(self._upstream, response, self._target, started)
        return self._stream

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._stream is None:
            return
        if exc_type is None and not self._stream.complete:
            await self._stream.drain()
        if not self._stream.complete:
            logger.debug("channel %s: closing an unfinished upstream stream", self._target.channel_id)
        self._stream.close()


class AiohttpUpstream:
    """``UpstreamHTTP`` on one aiohttp session per process (see the module docstring)."""

    def __init__(self, settings: Settings, *, connector_limit: int = 0) -> None:
        self.settings = settings
        self._connector_limit = connector_limit
        self._session: aiohttp.ClientSession | None = None
        masking.install_log_masking()

    async def start(self) -> None:
        """Create the session; called once at app startup."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connector_limit, ttl_dns_cache=300,
                                             keepalive_timeout=30, ssl=True)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, connect=None, sock_connect=None, sock_read=None),
                headers={"User-Agent": f"chatnio/{__version__}"},
                auto_decompress=True,
                trust_env=False,
            )
            logger.info("upstream client started")

    async def close(self) -> None:
        """Close the session and its connections; called at app shutdown."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
            logger.info("upstream client stopped")
        self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """Return the session; ``start`` must have run in this event loop."""
        if self._session is None or self._session.closed:
            raise RuntimeError("The upstream client is not started; await AiohttpUpstream.start() first.")
        return self._session

    # --- sending ---------------------------------------------------------------------------

    async def _send(self, method: str, url: str, target: UpstreamTarget, started: float, *,
                    headers: dict[str, str] | None = None, json: Any = None, params: dict[str, str] | None = None,
                    data: Any = None) -> aiohttp.ClientResponse:
        if self._session is None or self._session.closed:
            await self.start()
        masking.remember(target.channel_id, target.endpoint, target.key, target.proxy)
        request_headers = dict(headers or {})
        if json is not None:
            data = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            request_headers.setdefault("Content-Type", "application/json")
        proxy = self._proxy_for(target)
        deadline = started + self.settings.first_byte_timeout
        logger.debug("channel %s: %s %s", target.channel_id, method, self.sanitize(url, target))
        try:
            async with asyncio.timeout_at(deadline):
                return await self.session.request(method, url, headers=request_headers, params=params, data=data,
                                                  proxy=proxy, allow_redirects=False)
        except TimeoutError:
            message = (f"channel://{target.channel_id} did not respond within first_byte_timeout "
                       f"({self.settings.first_byte_timeout:g} s).")
            logger.warning("channel %s: %s", target.channel_id, message)
            raise UpstreamFailure("timeout", message) from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            reason = self.sanitize(str(exc) or type(exc).__name__, target)
            message = f"Could not reach channel://{target.channel_id}: {reason}"
            logger.warning("channel %s: connect failed: %s", target.channel_id, reason)
            raise UpstreamFailure("connect", message) from exc

    def _proxy_for(self, target: UpstreamTarget) -> str | None:
        proxy = (target.proxy or "").strip()
        if not proxy:
            return None
        if not proxy.lower().startswith(("http://", "https://")):
            message = (f"The proxy of channel://{target.channel_id} must be an http:// or https:// URL; "
                       "change the channel's proxy setting.")
            raise UpstreamFailure("connect", message)
        return proxy

    async def request(self, method: str, url: str, target: UpstreamTarget, *, headers: dict[str, str] | None = None,
                      json: Any = None, params: dict[str, str] | None = None, data: Any = None) -> UpstreamResponse:
        """Send one request and read the whole response body (at most 64 MiB)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await self._send(method, url, target, started, headers=headers, json=json, params=params,
                                    data=data)
        try:
            chunks: list[bytes] = []
            size = 0
            deadline = started + self.settings.max_stream_duration
            while True:
                async with asyncio.timeout_at(min(loop.time() + self.settings.idle_timeout, deadline)):
                    chunk = await response.content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise UpstreamFailure("invalid", f"channel://{target.channel_id} sent a body larger than "
                                                     f"{MAX_RESPONSE_BYTES} bytes.", status=response.status)
                chunks.append(chunk)
            return UpstreamResponse(status=response.status, headers=_lower_headers(response.headers),
                                    body=b"".join(chunks))
        except TimeoutError:
            message = f"channel://{target.channel_id} stopped sending its response (idle_timeout {self.settings.idle_timeout:g} s)."
            logger.warning("channel %s: %s", target.channel_id, message)
            raise UpstreamFailure("timeout", message, status=response.status) from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
            reason = self.sanitize(str(exc) or type(exc).__name__, target)
            logger.warning("channel %s: reading the response failed: %s", target.channel_id, reason)
            raise UpstreamFailure("connect", f"The connection to channel://{target.channel_id} broke: {reason}",
                                  status=response.status) from exc
        finally:
            response.release()

    def stream(self, method: str, url: str, target: UpstreamTarget, *, headers: dict[str, str] | None = None,
               json: Any = None, params: dict[str, str] | None = None) -> _StreamContext:
        """Return an async context manager that yields an ``AiohttpStream``."""
        kwargs = {"headers": headers, "json": json, "params": params}
        return _StreamContext(self, method, url, target, kwargs)

    # --- errors ----------------------------------------------------------------------------

    def sanitize(self, text: str, target: UpstreamTarget) -> str:
        """Replace the endpoint with ``channel://<id>`` and mask keys in ``text``."""
        return masking.sanitize_text(text, channel_id=target.channel_id, endpoint=target.endpoint, key=target.key,
                                     proxy=target.proxy)

    def failure_from_status(self, status: int, message: str, target: UpstreamTarget, *,
                            headers: dict[str, str] | None = None, type: str | None = None, code: str | None = None,
                            param: str | None = None) -> UpstreamFailure:
        """Classify an HTTP error response into an ``UpstreamFailure`` with a sanitised message.

        401/402/403 and OpenAI's 429 ``insufficient_quota`` are ``auth``, 404 ``not_found``,
        429 ``rate_limit`` (with ``Retry-After``), 400/413/422 and content-policy codes
        ``request``, everything else (408, 5xx) ``server``.
        """
        kind = classify_status(status, type=type, code=code)
        text = self.sanitize(message, target).strip() or f"The upstream returned HTTP {status} without a message."
        retry_after = parse_retry_after(headers) if kind == "rate_limit" else None
        logger.warning("channel %s: upstream HTTP %s (%s, type=%s, code=%s): %s", target.channel_id, status, kind,
                       type, code, text)
        return UpstreamFailure(kind, text, status=status, type=self.sanitize(type, target) if type else None,  # type: ignore[arg-type]
                               code=code, param=param, retry_after=retry_after)

    def failure_from_response(self, status: int, body: bytes, target: UpstreamTarget, *,
                                    headers: dict[str, str] | None = None) -> UpstreamFailure:
        """Parse a vendor error body of a common shape and classify it (``failure_from_status``)."""
        message, type_, code, param = parse_error_body(body)
        return self.failure_from_status(status, message, target, headers=headers, type=type_, code=code, param=param)
