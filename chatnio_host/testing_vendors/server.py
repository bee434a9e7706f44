"""A raw HTTP/1.1 server on 127.0.0.1 whose responses a test scripts byte for byte.

The server is built on ``asyncio.Protocol`` rather than a web framework so a test controls what
reaches the socket: the status line, every header, each chunk of a chunked body and the sleeps
between them, a connection that is accepted and never answered, one that is held open after the
last byte, and a TCP reset. It records every request and when the client closed its connection.

Vendor fakes (``FakeOpenAI`` and the fakes of other plugins) subclass ``FakeVendor`` and implement
``default_reply``; scripted replies from ``enqueue`` or ``handler`` take precedence.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FakeVendor",
    "RecordedRequest",
    "Reply",
    "ReplyHandler",
    "sse_data",
]

logger = logging.getLogger(__name__)

Ending = Literal["complete", "hold", "close", "reset"]

_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 408: "Request Timeout", 413: "Payload Too Large",
    422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

MAX_HEADER_BYTES = 64 * 1024


@dataclass
class Reply:
    """One scripted response.

    ``body`` is sent with ``Content-Length``. ``chunks`` is sent with chunked transfer encoding,
    one HTTP chunk per ``bytes`` item; a ``float`` item sleeps that many seconds first.
    ``ending`` says what happens after the last byte: ``complete`` (the terminating zero-length
    chunk), ``hold`` (nothing more and the socket stays open for ``hold_seconds`` or until the
    client closes it), ``close`` (close without the terminator) or ``reset`` (a TCP reset).
    ``stall`` accepts the request and never answers. ``raw`` bytes replace the whole HTTP answer.
    """

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    chunks: list[bytes | float] | None = None
    ending: Ending = "complete"
    hold_seconds: float | None = None
    stall: bool = False
    delay: float = 0.0
    raw: bytes | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: Iterable[tuple[str, str]] = (),
             indent: int | None = 2) -> Reply:
        """Build a JSON response; ``indent`` 2 matches OpenAI's pretty-printed bodies."""
        body = json.dumps(payload, ensure_ascii=False, indent=indent).encode("utf-8")
        return cls(status=status, headers=[("Content-Type", "application/json"), *headers], body=body)

    @classmethod
    def error(cls, status: int, message: str, type: str = "invalid_request_error", code: str | None = None,
              param: str | None = None, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        """Build an error answer in OpenAI's shape."""
        payload = {"error": {"message": message, "type": type, "param": param, "code": code}}
        return cls.json(payload, status=status, headers=headers)

    @classmethod
    def sse(cls, events: Iterable[bytes | str | dict[str, Any] | float], *, gap: float = 0.0,
            slice_size: int | None = None, ending: Ending = "complete", hold_seconds: float | None = None,
            status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        """Build a chunked ``text/event-stream`` answer.

        ``bytes`` items are written verbatim, ``str`` items are UTF-8 encoded, ``dict`` items
        become ``data: <compact JSON>\\n\\n``, and ``float`` items sleep. ``gap`` sleeps between
        writes; ``slice_size`` cuts each write into pieces of at most that many bytes.
        """
        chunks: list[bytes | float] = []
        for item in events:
            if isinstance(item, float | int) and not isinstance(item, bool):
                chunks.append(float(item))
                continue
            if isinstance(item, dict):
                data = sse_data(item)
            elif isinstance(item, str):
                data = item.encode("utf-8")
            else:
                data = bytes(item)
            pieces = [data]
            if slice_size:
                pieces = [data[i:i + slice_size] for i in range(0, len(data), slice_size)] or [b""]
            for piece in pieces:
                if gap and chunks and not isinstance(chunks[-1], float):
                    chunks.append(gap)
                chunks.append(piece)
        base_headers = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache")]
        return cls(status=status, headers=[*base_headers, *headers], chunks=chunks, ending=ending,
                   hold_seconds=hold_seconds)

    @classmethod
    def stalled(cls) -> Reply:
        """Build an answer that never comes: the socket stays open until the client closes it."""
        return cls(stall=True)

    @classmethod
    def reset(cls) -> Reply:
        """Build an answer that resets the TCP connection without sending anything."""
        return cls(raw=b"", ending="reset")


def sse_data(payload: Any) -> bytes:
    """Return ``data: <compact JSON>\\n\\n``, the way OpenAI frames a stream event."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return b"data: " + text.encode("utf-8") + b"\n\n"


@dataclass
class RecordedRequest:
    """One request the fake vendor received.

    ``headers`` keeps names in lower case (the last value wins); ``raw_headers`` keeps them as
    sent. ``closed`` is set when the client closed the connection that carried this request;
    ``closed_early`` is True when that happened before the answer was complete.
    """

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: bytes
    received_at: float
    closed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    closed_early: bool = False
    answered: bool = False

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)

    def query_value(self, name: str) -> str | None:
        """Return the first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else None

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        """Wait until the client closed the connection; return whether it did within ``timeout``."""
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except TimeoutError:
            return False
        return True


ReplyHandler = Callable[[RecordedRequest], "Reply | None | Awaitable[Reply | None]"]


class _Connection(asyncio.Protocol):
    """One client connection: buffers bytes, parses requests, runs their answers in order."""

    def __init__(self, server: FakeVendor) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.data_ready = asyncio.Event()
        self.lost = asyncio.Event()
        self.current: RecordedRequest | None = None
        self.carried: list[RecordedRequest] = []
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server._connections.add(self)
        self.server.connection_count += 1
        self.task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        self.buffer.extend(data)
        self.data_ready.set()

    def eof_received(self) -> bool | None:
        self._mark_lost()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._mark_lost()
        self.server._connections.discard(self)

    def _mark_lost(self) -> None:
        if self.lost.is_set():
            return
        self.lost.set()
        self.data_ready.set()
        if self.current is not None and not self.current.answered:
            self.current.closed_early = True
        for request in self.carried:
            request.closed.set()

    async def _read_until(self, predicate: Callable[[], int | None]) -> int | None:
        while True:
            position = predicate()
            if position is not None:
                return position
            if self.lost.is_set():
                return None
            self.data_ready.clear()
            await self.data_ready.wait()

    async def _read_request(self) -> RecordedRequest | None:
        def header_end() -> int | None:
            index = self.buffer.find(b"\r\n\r\n")
            if index < 0 and len(self.buffer) > MAX_HEADER_BYTES:
                return -1
            return None if index < 0 else index

        end = await self._read_until(header_end)
        if end is None or end < 0:
            return None
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[:end + 4]
        request_line, *header_lines = head.split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        raw_headers: list[tuple[str, str]] = []
        for line in header_lines:
            name, _, value = line.partition(":")
            raw_headers.append((name.strip(), value.strip()))
        headers = {name.lower(): value for name, value in raw_headers}

        body = await self._read_body(headers)
        if body is None:
            return None
        parts = urlsplit(target)
        return RecordedRequest(
            method=method, target=target, path=parts.path, query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers, raw_headers=raw_headers, body=body, received_at=time.monotonic(),
        )

    async def _read_body(self, headers: dict[str, str]) -> bytes | None:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                line_end = await self._read_until(lambda: (i if (i := self.buffer.find(b"\r\n")) >= 0 else None))
                if line_end is None:
                    return None
                size = int(bytes(self.buffer[:line_end]).split(b";")[0], 16)
                del self.buffer[:line_end + 2]
                needed = size + 2
                if await self._read_until(lambda: 0 if len(self.buffer) >= needed else None) is None:
                    return None
                body.extend(self.buffer[:size])
                del self.buffer[:needed]
                if size == 0:
                    return bytes(body)
        length = int(headers.get("content-length", "0") or 0)
        if await self._read_until(lambda: 0 if len(self.buffer) >= length else None) is None:
            return None
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return body

    async def _serve(self) -> None:
        try:
            while not self.lost.is_set():
                request = await self._read_request()
                if request is None:
                    break
                self.current = request
                if self.server.record:
                    self.carried.append(request)
                    self.server.requests.append(request)
                self.server._request_seen.set()
                keep_open = await self._answer(request)
                request.answered = True
                if not keep_open or request.headers.get("connection", "").lower() == "close":
                    break
            self._close()
        except asyncio.CancelledError:
            self._close()
            raise
        except (ValueError, IndexError) as exc:
            logger.warning("fake vendor on port %s could not parse a request: %s", self.server.port, exc)
            self._close()

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _write(self, data: bytes) -> bool:
        if self.transport is None or self.transport.is_closing() or self.lost.is_set():
            return False
        self.transport.write(data)
        return True

    async def _sleep_or_lost(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (forever when None), returning early when the client goes away."""
        try:
            await asyncio.wait_for(self.lost.wait(), seconds)
        except TimeoutError:
            pass

    async def _answer(self, request: RecordedRequest) -> bool:
        """Send the answer to ``request``; return whether the connection may carry another."""
        reply = await self.server._reply_for(request)
        if reply.delay:
            await self._sleep_or_lost(reply.delay)
        if reply.stall:
            await self._sleep_or_lost(reply.hold_seconds)
            return False
        if reply.raw is not None:
            self._write(reply.raw)
            return await self._finish(reply)

        headers = list(reply.headers)
        names = {name.lower() for name, _ in headers}
        if reply.chunks is not None:
            if "transfer-encoding" not in names:
                headers.append(("Transfer-Encoding", "chunked"))
        elif "content-length" not in names:
            headers.append(("Content-Length", str(len(reply.body or b""))))
        if "date" not in names:
            headers.append(("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())))
        reason = _REASONS.get(reply.status, "Status")
        head = f"HTTP/1.1 {reply.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        self._write(head.encode("latin-1"))

        if reply.chunks is None:
            self._write(reply.body or b"")
            return await self._finish(reply)
        for item in reply.chunks:
            if isinstance(item, float):
                await self._sleep_or_lost(item)
                continue
            if not item:
                continue
            if not self._write(b"%x\r\n" % len(item) + item + b"\r\n"):
                return False
        if reply.ending == "complete":
            self._write(b"0\r\n\r\n")
        return await self._finish(reply)

    async def _finish(self, reply: Reply) -> bool:
        if reply.ending == "reset":
            self._reset()
            return False
        if reply.ending == "close":
            self._close()
            return False
        if reply.ending == "hold":
            await self._sleep_or_lost(reply.hold_seconds)
            return False
        return True

    def _reset(self) -> None:
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class FakeVendor:
    """A scripted HTTP/1.1 server on 127.0.0.1; subclasses supply ``default_reply``.

    Use it as an async context manager, or call ``start`` and ``stop``::

        async with FakeOpenAI() as vendor:
            vendor.enqueue(Reply.error(429, "slow down", headers=[("Retry-After", "2")]))
            ...  # call vendor.url
            assert vendor.requests[0].headers["authorization"] == "Bearer sk-test"

    ``enqueue`` queues replies for the next matching requests (by path when given); ``handler``,
    when set, is asked next and may return None to fall back to ``default_reply``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.handler: ReplyHandler | None = None
        self.record = True
        """Whether to keep every request in ``requests``; benchmarks turn it off."""
        self.connection_count = 0
        self._queue: list[tuple[str | None, Reply | ReplyHandler]] = []
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()
        self._request_seen = asyncio.Event()

    @property
    def url(self) -> str:
        """Return the base URL, such as ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeVendor:
        """Listen on the host and port (port 0 picks a free one)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port, backlog=2048)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("%s listening on %s", type(self).__name__, self.url)
        return self

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._connections):
            if connection.task is not None:
                connection.task.cancel()
            if connection.transport is not None:
                connection.transport.abort()
        await self._server.wait_closed()
        self._server = None
        logger.info("%s on port %s stopped", type(self).__name__, self.port)

    async def __aenter__(self) -> FakeVendor:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    def enqueue(self, *replies: Reply | ReplyHandler, path: str | None = None) -> None:
        """Queue replies for the next requests whose path ends with ``path`` (any path when None)."""
        for reply in replies:
            self._queue.append((path, reply))

    def reset(self) -> None:
        """Forget recorded requests, queued replies and the handler."""
        self.requests.clear()
        self._queue.clear()
        self.handler = None

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        """Return the recorded requests whose path ends with ``path_suffix``."""
        return [request for request in self.requests if request.path.endswith(path_suffix)]

    async def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"expected {count} requests, got {len(self.requests)}")
            self._request_seen.clear()
            try:
                await asyncio.wait_for(self._request_seen.wait(), remaining)
            except TimeoutError:
                continue
        return list(self.requests)

    async def _reply_for(self, request: RecordedRequest) -> Reply:
        for position, (path, scripted) in enumerate(self._queue):
            if path is None or request.path.endswith(path):
                del self._queue[position]
                reply = await _resolve(scripted, request)
                if reply is not None:
                    return reply
                break
        if self.handler is not None:
            reply = await _resolve(self.handler, request)
            if reply is not None:
                return reply
        return await _resolve(self.default_reply, request) or Reply.error(404, f"No route for {request.path}")

    def default_reply(self, request: RecordedRequest) -> Reply | None | Awaitable[Reply | None]:
        """Return the answer when nothing is scripted; subclasses implement the vendor here."""
        return None


async def _resolve(scripted: Reply | ReplyHandler, request: RecordedRequest) -> Reply | None:
    if isinstance(scripted, Reply):
        return scripted
    result = scripted(request)
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        result = await result
    return result  # type: ignore[return-value]
