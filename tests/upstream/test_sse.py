"""The incremental SSE parser on split reads, odd framing, split UTF-8 and large events."""

from __future__ import annotations

import json

import pytest

from chatnio_host.relay.sse import SSEError, SSEParser, iter_sse

# The upstream writes of the SSE reassembly case, byte for byte.
W1 = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"He'
W2 = b'llo"},"finish_reason":null}]}\n\ndata:{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":", "},"finish_reason":null}]}\r\n\r\n: keep-alive\n\n'
W3 = b'event: message\ndata: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",\ndata: "choices":[{"index":0,"delta":{"content":"\xe4\xbd\xa0\xe5\xa5'
W4 = b'\xbd\xf0\x9f'
W5 = b'\x8c\x8d"},"finish_reason":null}]}\n\n'
W6 = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"' + b'a' * 100000 + b'"},"finish_reason":null}]}\n\n'
W7 = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


def b01_reads() -> list[bytes]:
    slices = [W6[i:i + 8192] for i in range(0, len(W6), 8192)]
    return [W1, W2, W3, W4, W5, *slices, W7]


def parse_all(reads: list[bytes], limit: int = 16 * 1024 * 1024):
    parser = SSEParser(limit)
    events = []
    for read in reads:
        events.extend(parser.feed(read))
    events.extend(parser.close())
    return events, parser


def test_b01_reads_give_exact_text() -> None:
    events, parser = parse_all(b01_reads())
    assert events[-1].data == "[DONE]"
    chunks = [json.loads(event.data) for event in events[:-1]]
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text == "Hello, 你好🌍" + "a" * 100000
    assert "\ufffd" not in text
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks].count("stop") == 1
    assert parser.comments == 1


def test_b01_multiline_data_joined_with_newline() -> None:
    events, _ = parse_all(b01_reads())
    third = events[2]
    assert third.event == "message"
    assert third.data.count("\n") == 1
    assert json.loads(third.data)["choices"][0]["delta"]["content"] == "你好🌍"


def test_b01_byte_by_byte() -> None:
    stream = b"".join([W1, W2, W3, W4, W5, W7])
    events, _ = parse_all([stream[i:i + 1] for i in range(len(stream))])
    assert [event.data for event in events][-1] == "[DONE]"
    assert len(events) == 5


@pytest.mark.parametrize("terminator", [b"\n", b"\r\n", b"\r"])
def test_line_terminators(terminator: bytes) -> None:
    stream = terminator.join([b"event: a", b"data: 1", b"", b"data:2", b"id: 7", b"", b""])
    for cut in range(len(stream) + 1):
        events, _ = parse_all([stream[:cut], stream[cut:]])
        assert [(event.event, event.data, event.id) for event in events] == [("a", "1", None), (None, "2", "7")]


def test_cr_at_read_end_then_lf() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: x\r") == []
    assert [event.data for event in parser.feed(b"\n\r\n")] == ["x"]


def test_comment_and_unknown_fields_skipped() -> None:
    events, parser = parse_all([b": ping\n\nretry: 10\nfoo: bar\n\n: {not json\ndata: ok\n\n"])
    assert [event.data for event in events] == ["ok"]
    assert parser.comments == 2


def test_only_one_space_stripped() -> None:
    events, _ = parse_all([b"data:  two spaces\n\ndata\n\n"])
    assert [event.data for event in events] == [" two spaces", ""]


def test_unterminated_last_event_kept() -> None:
    events, _ = parse_all([b"data: a\n\ndata: [DONE]"])
    assert [event.data for event in events] == ["a", "[DONE]"]


def test_bom_at_start_removed() -> None:
    events, _ = parse_all([b"\xef\xbb\xbfdata: a\n\n"])
    assert events[0].data == "a"


def test_event_over_cap_raises() -> None:
    parser = SSEParser(max_event_bytes=2048)
    parser.feed(b"data: " + b"a" * 1000 + b"\n")
    with pytest.raises(SSEError, match="sse_max_event_bytes"):
        parser.feed(b"data: " + b"a" * 1500)


def test_unterminated_line_over_cap_raises() -> None:
    parser = SSEParser(max_event_bytes=4096)
    with pytest.raises(SSEError, match="4096 bytes"):
        for _ in range(10):
            parser.feed(b"a" * 1000)


def test_event_at_cap_accepted() -> None:
    payload = b"a" * 3000
    events, _ = parse_all([b"data: " + payload[:1500], payload[1500:] + b"\n\n"], limit=4096)
    assert len(events[0].data) == 3000


def test_invalid_utf8_raises() -> None:
    with pytest.raises(SSEError, match="UTF-8"):
        parse_all([b"data: \xff\xfe\n\n"])


def test_memory_stays_bounded() -> None:
    parser = SSEParser()
    event = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
    for _ in range(5000):
        assert len(parser.feed(event[:10])) == 0
        assert len(parser.feed(event[10:])) == 1
    assert len(parser._buffer) == 0


async def test_iter_sse_over_async_reads() -> None:
    async def reads():
        for read in b01_reads():
            yield read

    events = [event async for event in iter_sse(reads())]
    assert events[-1].data == "[DONE]"
    assert len(events) == 6
