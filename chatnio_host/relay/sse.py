"""An incremental parser of server-sent events (the WHATWG ``text/event-stream`` format).

Upstream bytes arrive in reads that need not line up with lines, events or UTF-8 characters.
``SSEParser.feed`` buffers the unfinished line and returns every event completed so far, so a
stream is parsed in one pass with memory bounded by the largest single event:

* lines end in CRLF, LF or CR, including a CR at the end of one read and its LF in the next;
* ``:`` lines are comments and are skipped;
* ``data:`` with or without the space after the colon; several ``data:`` lines of one event
  are joined with ``\\n``; ``event:`` and ``id:`` are kept; ``retry:`` and unknown fields are
  ignored;
* each complete line is decoded as UTF-8, so a character split across reads is never broken;
  invalid UTF-8 raises ``SSEError``;
* an event whose data grows past ``max_event_bytes`` raises ``SSEError``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator

from chatnio_host.channels.base import SSEEvent

__all__ = ["SSEError", "SSEParser", "iter_sse"]

_LINE_END = re.compile(rb"[\r\n]")


class SSEError(ValueError):
    """The upstream stream is not valid server-sent events, or one event is too large."""


class SSEParser:
    """Turn a stream of byte reads into ``SSEEvent`` values, one read at a time."""

    def __init__(self, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_event_bytes = max_event_bytes
        self._buffer = bytearray()
        self._scan_from = 0
        self._skip_lf = False
        self._started = False
        self._data: list[str] = []
        self._data_bytes = 0
        self._event: str | None = None
        self._id: str | None = None
        self.comments = 0
        """How many comment lines were skipped (keep-alive pings, mostly)."""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add one read and return the events it completed."""
        if not chunk:
            return []
        buffer = self._buffer
        buffer.extend(chunk)
        position = 0
        if self._skip_lf:
            self._skip_lf = False
            if buffer[:1] == b"\n":
                position = 1
        events: list[SSEEvent] = []
        search_from = max(position, self._scan_from)

        while True:
            match = _LINE_END.search(buffer, search_from)
            if match is None:
                break
            end = match.start()
            line = bytes(buffer[position:end])
            if buffer[end] == 0x0D:
                if end + 1 < len(buffer):
                    next_position = end + 2 if buffer[end + 1] == 0x0A else end + 1
                else:
                    next_position = end + 1
                    self._skip_lf = True
            else:
                next_position = end + 1
            event = self._line(line)
            if event is not None:
                events.append(event)
            position = next_position
            search_from = position

        del buffer[:position]
        self._scan_from = len(buffer)
        if self._data_bytes + len(buffer) > self.max_event_bytes:
            self._too_large()
        return events

    def close(self) -> list[SSEEvent]:
        """End the stream: a last line without its terminator and a pending event still count.

        The standard drops an event that is not followed by a blank line; vendors that end the
        body right after ``data: [DONE]`` rely on it being kept, so this parser keeps it.
        """
        events: list[SSEEvent] = []
        if self._buffer:
            line = bytes(self._buffer)
            self._buffer.clear()
            self._scan_from = 0
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            return self._dispatch()
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SSEError(f"The upstream stream contains invalid UTF-8 at byte {exc.start} of a line.") from exc
        if not self._started:
            self._started = True
            line = line.removeprefix("\ufeff")
        if line.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_bytes += len(raw) + 1
            if self._data_bytes > self.max_event_bytes:
                self._too_large()
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = None
            return None
        event = SSEEvent(data="\n".join(self._data), event=self._event or None, id=self._id)
        self._data = []
        self._data_bytes = 0
        self._event = None
        return event

    def _too_large(self) -> None:
        message = (
            f"An upstream server-sent event is larger than sse_max_event_bytes ({self.max_event_bytes} bytes); "
            "raise SSE_MAX_EVENT_BYTES if this vendor sends larger events."
        )
        raise SSEError(message)


async def iter_sse(chunks: AsyncIterable[bytes], max_event_bytes: int = 16 * 1024 * 1024) -> AsyncIterator[SSEEvent]:
    """Parse an async iterable of byte reads into events."""
    parser = SSEParser(max_event_bytes)
    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield event
    for event in parser.close():
        yield event
