"""Streaming cases against the fake OpenAI vendor: framing, [DONE], usage, commit point, stalls."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from relay_vendor import content_chunk, finish_chunk, finish_reasons, openai_channel, parse_stream, stream_text
from relay_world import make_account, set_token_price, usage_records, wait_for_records

from chatnio_host.relay.estimate import count_tokens
from chatnio_host.testing_vendors.openai import FakeOpenAI, chat_chunk
from chatnio_host.testing_vendors.server import Reply, sse_data

MODEL = "gpt-4o-mini"
STREAM_BODY = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
USAGE_BODY = {**STREAM_BODY, "stream_options": {"include_usage": True}}
DONE = b"data: [DONE]\n\n"


async def _post(host: Any, key: str, body: dict[str, Any]) -> Any:
    return await host.client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


async def _setup(host: Any) -> Any:
    await set_token_price(host, [MODEL], input="1", output="2")
    return await make_account(host, points="100")


async def test_reassembles_split_and_odd_framing(open_host: Any) -> None:
    w1 = (b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":'
          b'[{"index":0,"delta":{"role":"assistant","content":"He')
    w2 = (b'llo"},"finish_reason":null}]}\n\ndata:{"id":"c1","object":"chat.completion.chunk","created":1,'
          b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":", "},"finish_reason":null}]}\r\n\r\n'
          b': keep-alive\n\n')
    w3 = (b'event: message\ndata: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",\n'
          b'data: "choices":[{"index":0,"delta":{"content":"\xe4\xbd\xa0\xe5\xa5')
    w4 = b"\xbd\xf0\x9f"
    w5 = b'\x8c\x8d"},"finish_reason":null}]}\n\n'
    w6 = (b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":'
          b'[{"index":0,"delta":{"content":"' + b"a" * 100000 + b'"},"finish_reason":null}]}\n\n')
    w7 = (b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":'
          b'[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    w6_slices: list[bytes | float] = []
    for start in range(0, len(w6), 8192):
        w6_slices += [w6[start:start + 8192], 0.01]
    chunks: list[bytes | float] = [w1, 0.05, w2, 0.05, w3, 0.05, w4, 0.05, w5, 0.05, *w6_slices, w7]

    async with open_host() as host, FakeOpenAI() as vendor:
        account = await _setup(host)
        await openai_channel(host, vendor)
        vendor.enqueue(Reply(headers=[("Content-Type", "text/event-stream")], chunks=chunks))

        response = await _post(host, account.key, STREAM_BODY)

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert b"\xef\xbf\xbd" not in response.content
        payloads = parse_stream(response.content)
        assert stream_text(payloads) == "Hello, 你好🌍" + "a" * 100000
        assert finish_reasons(payloads) == ["stop"]
        assert response.content.endswith(DONE)
        assert response.content.count(DONE) == 1
        records = await wait_for_records(host, account.user_id, 1)
        assert records[0].output_tokens == count_tokens("Hello, 你好🌍" + "a" * 100000)


async def test_done_ends_stream_and_socket(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI() as vendor:
        account = await _setup(host)
        await openai_channel(host, vendor)
        vendor.enqueue(Reply.sse([content_chunk("Hi"), finish_chunk(), DONE], ending="hold", hold_seconds=30))

        started = time.monotonic()
        response = await _post(host, account.key, STREAM_BODY)
        elapsed = time.monotonic() - started

        assert elapsed < 1.5
        assert response.content.endswith(DONE)
        assert await vendor.requests[0].wait_closed(2.0)
        records = await wait_for_records(host, account.user_id, 1, timeout=2.0)
        assert len(records) == 1


async def test_done_added_once_when_missing(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI() as vendor:
        account = await _setup(host)
        await openai_channel(host, vendor)
        vendor.enqueue(Reply.sse([content_chunk("Hi"), finish_chunk()], ending="close"))
        vendor.enqueue(Reply.sse([content_chunk("Hi"), finish_chunk(), DONE, content_chunk("X"), DONE]))

        missing = await _post(host, account.key, STREAM_BODY)
        stray = await _post(host, account.key, STREAM_BODY)

        assert missing.content.count(DONE) == 1
        assert missing.content.endswith(DONE)
        assert stray.content.count(DONE) == 1
        assert stream_text(parse_stream(stray.content)) == "Hi"
        records = await wait_for_records(host, account.user_id, 2)
        assert records[1].output_tokens <= count_tokens("Hi")


async def test_truncated_stream_is_an_error(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI() as vendor:
        account = await _setup(host)
        await openai_channel(host, vendor)
        vendor.enqueue(Reply.sse([content_chunk("Hel")], ending="close"))

        response = await _post(host, account.key, STREAM_BODY)

        payloads = parse_stream(response.content)
        assert stream_text(payloads) == "Hel"
        assert "stop" not in finish_reasons(payloads)
        assert "[DONE]" not in payloads
        assert payloads[-1]["error"]["message"]
        assert payloads[-1]["error"]["type"]
        records = await wait_for_records(host, account.user_id, 1)
        assert records[0].output_tokens == count_tokens("Hel")


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def test_stream_usage_shapes(open_host: Any) -> None:
    role = sse_data(chat_chunk({"role": "assistant", "content": "OK"}, id="c2", usage=None))
    finish = sse_data(chat_chunk({}, finish_reason="stop", id="c2", usage=None))
    usage_only = sse_data(chat_chunk(choices=[], id="c2", usage=_usage(10, 50)))
    finish_with_usage = sse_data(chat_chunk({}, finish_reason="stop", id="c2", usage=_usage(5, 11)))
    trailing_null = sse_data(chat_chunk(choices=[], id="c2", usage=None))
    cases = [
        ([role, finish, usage_only, DONE], (10, 50)),
        ([role, finish_with_usage, DONE], (5, 11)),
        ([role, finish, usage_only, trailing_null, DONE], (10, 50)),
    ]
    async with open_host() as host, FakeOpenAI() as vendor:
        account = await _setup(host)
        await openai_channel(host, vendor)
        for number, (events, expected) in enumerate(cases, start=1):
            vendor.enqueue(Reply.sse(events))
            response = await _post(host, account.key, USAGE_BODY)

            payloads = parse_stream(response.content)
            assert payloads[-1] == "[DONE]"
            usage_chunk = payloads[-2]
            assert usage_chunk["choices"] == []
            assert (usage_chunk["usage"]["prompt_tokens"], usage_chunk["usage"]["completion_tokens"]) == expected
            assert usage_chunk["usage"]["total_tokens"] == sum(expected)
            records = await wait_for_records(host, account.user_id, number)
            assert (records[-1].input_tokens, records[-1].output_tokens) == expected
            assert records[-1].usage_source == "vendor"

        assert vendor.requests[0].json()["stream_options"]["include_usage"] is True

        vendor.enqueue(Reply.sse([content_chunk("Hello"), content_chunk(" world"), finish_chunk(), DONE]))
        response = await _post(host, account.key, STREAM_BODY)

        assert not any(isinstance(p, dict) and "usage" in p for p in parse_stream(response.content))
        assert vendor.requests[-1].json()["stream_options"]["include_usage"] is True
        records = await wait_for_records(host, account.user_id, 4)
        assert records[-1].output_tokens == count_tokens("Hello world") == 2
        assert records[-1].input_tokens > 0
        assert records[-1].usage_source != "vendor"


async def test_error_after_output_never_fails_over(open_host: Any) -> None:
    error = b'data: {"error":{"message":"Engine queue full, please retry","type":"server_error","code":503}}\n\n'
    async with open_host() as host, FakeOpenAI() as vendor_a, FakeOpenAI() as vendor_b:
        account = await _setup(host)
        await openai_channel(host, vendor_a, "A", priority=10)
        await openai_channel(host, vendor_b, "B", priority=5)
        vendor_a.enqueue(Reply.sse([content_chunk("Hel"), error, DONE]))
        vendor_a.enqueue(Reply(headers=[("Content-Type", "text/event-stream")], chunks=[content_chunk("Hel")],
                               ending="reset"))

        for number in (1, 2):
            response = await _post(host, account.key, STREAM_BODY)

            payloads = parse_stream(response.content)
            assert stream_text(payloads) == "Hel"
            assert payloads[-1]["error"]["message"]
            assert payloads[-1]["error"]["type"]
            assert "stop" not in finish_reasons(payloads)
            assert "[DONE]" not in payloads
            records = await wait_for_records(host, account.user_id, number)
            assert records[-1].output_tokens == count_tokens("Hel")
        assert vendor_b.requests == []


async def test_error_before_output_fails_over(open_host: Any) -> None:
    server_error = b'data: {"error":{"message":"Engine queue full","type":"server_error","code":503}}\n\n'
    request_error = b'data: {"error":{"message":"max_tokens too large","type":"BadRequestError","code":400}}\n\n'
    async with open_host() as host, FakeOpenAI() as vendor_a, FakeOpenAI() as vendor_b:
        account = await _setup(host)
        await openai_channel(host, vendor_a, "A", priority=10)
        b = await openai_channel(host, vendor_b, "B", priority=5)
        start_balance_records = 0
        vendor_a.enqueue(Reply.sse([server_error, DONE]))

        response = await _post(host, account.key, STREAM_BODY)

        assert response.status_code == 200
        assert parse_stream(response.content)[-1] == "[DONE]"
        records = await wait_for_records(host, account.user_id, start_balance_records + 1)
        assert records[-1].channel_id == b

        vendor_a.enqueue(Reply.sse([request_error, DONE]))
        calls_to_b = len(vendor_b.requests)
        response = await _post(host, account.key, STREAM_BODY)

        assert response.status_code == 400
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert len(vendor_b.requests) == calls_to_b


async def test_first_byte_timeout_fails_over(open_host: Any) -> None:
    async with open_host(first_byte_timeout=2.0, idle_timeout=3.0, max_stream_duration=10.0) as host, \
            FakeOpenAI() as vendor_a, FakeOpenAI() as vendor_b:
        account = await _setup(host)
        await openai_channel(host, vendor_a, "A", priority=10)
        await openai_channel(host, vendor_b, "B", priority=5)
        vendor_a.enqueue(Reply.stalled())

        started = time.monotonic()
        response = await _post(host, account.key, STREAM_BODY)

        assert time.monotonic() - started < 4.0
        assert response.status_code == 200
        assert stream_text(parse_stream(response.content)) == "hi"
        records = await wait_for_records(host, account.user_id, 1)
        assert len(records) == 1

        vendor_a.enqueue(Reply.stalled())
        vendor_b.enqueue(Reply.stalled())
        started = time.monotonic()
        response = await _post(host, account.key, STREAM_BODY)

        assert time.monotonic() - started < 5.5
        assert response.status_code == 504
        assert response.json()["error"]["type"] == "timeout_error"
        assert len(await usage_records(host, account.user_id)) == 2
        assert (await usage_records(host, account.user_id))[-1].points == 0


async def test_stall_after_output_ends_stream(open_host: Any) -> None:
    pings: list[bytes | float] = []
    for _ in range(20):
        pings += [0.5, b": ping\n\n"]
    async with open_host(first_byte_timeout=1.0, idle_timeout=1.5, max_stream_duration=4.0) as host, \
            FakeOpenAI() as vendor:
        account = await _setup(host)
        await openai_channel(host, vendor)
        vendor.enqueue(Reply.sse([content_chunk("Hi")], ending="hold", hold_seconds=30))
        vendor.enqueue(Reply(headers=[("Content-Type", "text/event-stream")], chunks=[content_chunk("Hi"), *pings]))

        for number in (1, 2):
            started = time.monotonic()
            response = await _post(host, account.key, STREAM_BODY)

            assert time.monotonic() - started < 4.5
            payloads = parse_stream(response.content)
            assert stream_text(payloads) == "Hi"
            assert payloads[-1]["error"]["type"] == "timeout_error"
            assert "[DONE]" not in payloads
            assert await vendor.requests[-1].wait_closed(2.0)
            records = await wait_for_records(host, account.user_id, number)
            assert records[-1].output_tokens == count_tokens("Hi")
        assert len(vendor.requests) == 2


async def test_choice_and_tool_indices_kept(open_host: Any) -> None:
    def chunk(delta: dict[str, Any], index: int = 0, finish: str | None = None) -> bytes:
        return sse_data(chat_chunk(delta, index=index, finish_reason=finish, id="c4"))

    two_choices = [
        chunk({"role": "assistant", "content": "AAA"}, 0), chunk({"role": "assistant", "content": "BBB"}, 1),
        chunk({"content": " aaa"}, 0), chunk({"content": " bbb"}, 1),
        sse_data(chat_chunk(id="c4", choices=[
            {"index": 0, "delta": {}, "finish_reason": "stop"}, {"index": 1, "delta": {}, "finish_reason": "stop"}])),
        DONE,
    ]
    tool_calls = [
        chunk({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}},
            {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{\"y\":2}"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"x\":1}"}}]}),
        chunk({}, finish="tool_calls"),
        DONE,
    ]
    async with open_host() as host, FakeOpenAI(usage=False) as vendor:
        account = await _setup(host)
        await openai_channel(host, vendor)
        vendor.enqueue(Reply.sse(two_choices))

        response = await _post(host, account.key, {**STREAM_BODY, "n": 2})

        payloads = parse_stream(response.content)
        assert stream_text(payloads, 0) == "AAA aaa"
        assert stream_text(payloads, 1) == "BBB bbb"
        assert finish_reasons(payloads) == ["stop", "stop"]
        records = await wait_for_records(host, account.user_id, 1)
        assert records[0].output_tokens == count_tokens("AAA aaa") + count_tokens("BBB bbb")

        vendor.enqueue(Reply.sse(tool_calls))
        response = await _post(host, account.key, STREAM_BODY)

        calls: dict[int, dict[str, str]] = {}
        for payload in parse_stream(response.content):
            if not isinstance(payload, dict):
                continue
            for choice in payload["choices"]:
                for call in choice["delta"].get("tool_calls") or []:
                    entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                    entry["id"] += call.get("id") or ""
                    entry["name"] += (call.get("function") or {}).get("name") or ""
                    entry["arguments"] += (call.get("function") or {}).get("arguments") or ""
        assert calls == {
            0: {"id": "call_a", "name": "f", "arguments": "{\"x\":1}"},
            1: {"id": "call_b", "name": "g", "arguments": "{\"y\":2}"},
        }

        response = await _post(host, account.key, {**STREAM_BODY, "stream": False, "n": 2})

        choices = response.json()["choices"]
        assert [choice["index"] for choice in choices] == [0, 1]


async def test_client_disconnect_closes_upstream(open_host: Any) -> None:
    import httpx
    from relay_world import serve

    words = [f" word{index}" for index in range(30)]
    events: list[bytes | float] = []
    for word in words:
        events += [content_chunk(word), 0.2]
    async with open_host() as host, FakeOpenAI() as vendor:
        account = await _setup(host)
        await openai_channel(host, vendor)
        vendor.enqueue(Reply.sse([*events, finish_chunk(), DONE]))

        received: list[str] = []
        async with serve(host) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            async with client.stream(
                "POST", "/v1/chat/completions", json=STREAM_BODY, headers={"Authorization": f"Bearer {account.key}"}
            ) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        received.append(stream_text(parse_stream(line.encode() + b"\n\n")))
                    if len(received) == 3:
                        break
            assert await vendor.requests[0].wait_closed(3.0)
            assert vendor.requests[0].closed_early
            records = await wait_for_records(host, account.user_id, 1)

        await asyncio.sleep(0)
        assert len(records) == 1
        assert records[0].status == "client_closed"
        assert count_tokens("".join(received)) <= records[0].output_tokens <= count_tokens("".join(words[:4]))
