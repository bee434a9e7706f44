"""The fake OpenAI vendor: default responses through the official SDK, scripted bytes, stalls."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time

import httpx
import openai
import pytest

from chatnio_host.testing_vendors import FakeOpenAI, Reply, chat_chunk, sse_data


@pytest.fixture
async def vendor():
    async with FakeOpenAI() as fake:
        yield fake


def sdk(vendor: FakeOpenAI, key: str = "sk-test") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=vendor.url + "/v1", max_retries=0)


async def test_echo_chat_non_stream(vendor: FakeOpenAI) -> None:
    client = sdk(vendor)
    answer = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello there"}])
    assert answer.choices[0].message.content == "hello there"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 2
    assert answer.usage.prompt_tokens == 5
    request = vendor.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json()["model"] == "gpt-4o"
    await client.close()


async def test_echo_chat_stream_with_usage(vendor: FakeOpenAI) -> None:
    client = sdk(vendor)
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "one two three"}], stream=True,
        stream_options={"include_usage": True},
    )
    texts, finishes, usages = [], [], []
    async for chunk in stream:
        if chunk.choices:
            texts.append(chunk.choices[0].delta.content or "")
            finishes.append(chunk.choices[0].finish_reason)
        if chunk.usage is not None:
            usages.append(chunk.usage)
    assert "".join(texts) == "one two three"
    assert finishes.count("stop") == 1
    assert len(usages) == 1
    assert usages[0].completion_tokens == 3
    await client.close()


async def test_stream_bytes_are_openai_framing(vendor: FakeOpenAI) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(vendor.url + "/v1/chat/completions", json={
            "model": "m", "stream": True, "messages": [{"role": "user", "content": "a b"}],
            "stream_options": {"include_usage": True},
        })
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    events = response.content.split(b"\n\n")
    assert events[-1] == b""
    assert events[-2] == b"data: [DONE]"
    usage_chunk = json.loads(events[-3].removeprefix(b"data: "))
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] == usage_chunk["usage"]["prompt_tokens"] + 2
    first = json.loads(events[0].removeprefix(b"data: "))
    assert first["usage"] is None
    assert b", " not in events[0]


async def test_stream_without_usage_when_disabled() -> None:
    async with FakeOpenAI(usage=False) as vendor, httpx.AsyncClient() as client:
        response = await client.post(vendor.url + "/v1/chat/completions", json={
            "model": "m", "stream": True, "messages": [{"role": "user", "content": "a"}],
            "stream_options": {"include_usage": True},
        })
    assert b'"usage"' not in response.content


async def test_tool_call_then_result(vendor: FakeOpenAI) -> None:
    client = sdk(vendor)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    first = await client.chat.completions.create(
        model="gpt-4o", tools=tools, messages=[{"role": "user", "content": "weather"}])
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"text": "weather"}
    second = await client.chat.completions.create(model="gpt-4o", tools=tools, messages=[
        {"role": "user", "content": "weather"},
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ])
    assert second.choices[0].message.content == "tool result: sunny"
    await client.close()


async def test_embeddings_images_models(vendor: FakeOpenAI) -> None:
    client = sdk(vendor)
    embedding = await client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(embedding.data) == 2
    assert len(embedding.data[0].embedding) == 8
    raw = json.loads(vendor.requests[-1].body)
    assert raw.get("encoding_format") == "base64"
    image = await client.images.generate(model="dall-e-3", prompt="a cat", response_format="b64_json")
    assert base64.b64decode(image.data[0].b64_json).startswith(b"\x89PNG")
    models = await client.models.list()
    assert "gpt-4o" in [model.id for model in models.data]
    await client.close()


async def test_embedding_base64_is_float32(vendor: FakeOpenAI) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(vendor.url + "/v1/embeddings", json={
            "model": "e", "input": "x", "encoding_format": "base64"})
    packed = base64.b64decode(response.json()["data"][0]["embedding"])
    assert len(struct.unpack("<8f", packed)) == 8


async def test_wrong_key_gets_openai_401() -> None:
    async with FakeOpenAI(keys={"sk-good"}) as vendor:
        client = sdk(vendor, key="sk-bad-key-123456")
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.models.list()
        assert caught.value.status_code == 401
        assert caught.value.code == "invalid_api_key"
        await client.close()


async def test_azure_paths_and_prompt_filter_chunk(vendor: FakeOpenAI) -> None:
    async with httpx.AsyncClient() as client:
        missing = await client.post(vendor.url + "/openai/deployments/prod/chat/completions",
                                    json={"messages": [{"role": "user", "content": "x"}]})
        streamed = await client.post(
            vendor.url + "/openai/deployments/prod/chat/completions", params={"api-version": "2024-02-01"},
            headers={"api-key": "AZKEY"},
            json={"stream": True, "messages": [{"role": "user", "content": "x"}]},
        )
    assert missing.status_code == 404
    first = json.loads(streamed.content.split(b"\n\n")[0].removeprefix(b"data: "))
    assert first["choices"] == []
    assert "prompt_filter_results" in first
    second = json.loads(streamed.content.split(b"\n\n")[1].removeprefix(b"data: "))
    assert second["model"] == "prod"
    assert vendor.requests[1].query_value("api-version") == "2024-02-01"
    assert vendor.requests[1].headers["api-key"] == "AZKEY"


async def test_scripted_write_boundaries(vendor: FakeOpenAI) -> None:
    pieces = [b'data: {"a":"\xe4\xbd', b'\xa0"}\n\n', b"data: [DONE]\n\n"]
    vendor.enqueue(Reply.sse(pieces, gap=0.05))
    received: list[bytes] = []
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        async with client.stream("POST", vendor.url + "/v1/chat/completions", json={}) as response:
            async for piece in response.aiter_raw():
                received.append(piece)
    assert b"".join(received) == b"".join(pieces)
    assert received[0] == pieces[0]
    assert time.monotonic() - started >= 0.1


async def test_scripted_slices(vendor: FakeOpenAI) -> None:
    big = sse_data(chat_chunk({"content": "a" * 20000}))
    reply = Reply.sse([big], slice_size=8192)
    assert [len(piece) for piece in reply.chunks] == [8192, 8192, len(big) - 16384]


async def test_error_reply_shape(vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.error(429, "Rate limit reached", type="requests", code="rate_limit_exceeded",
                               headers=[("Retry-After", "2")]))
    async with httpx.AsyncClient() as client:
        response = await client.post(vendor.url + "/v1/chat/completions", json={})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"error": {"message": "Rate limit reached", "type": "requests", "param": None,
                                         "code": "rate_limit_exceeded"}}


async def test_stall_reports_client_close(vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.stalled())
    async with httpx.AsyncClient(timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(vendor.url + "/v1/chat/completions", json={})
    request = vendor.requests[0]
    assert await request.wait_closed(2.0)
    assert request.closed_early


async def test_hold_after_writes(vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([sse_data(chat_chunk({"content": "Hi"}))], ending="hold"))
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=0.4)) as client:
        async with client.stream("POST", vendor.url + "/v1/chat/completions", json={}) as response:
            iterator = response.aiter_raw()
            first = await iterator.__anext__()
            assert b"Hi" in first
            with pytest.raises(httpx.ReadTimeout):
                await iterator.__anext__()
    assert await vendor.requests[0].wait_closed(2.0)


async def test_tcp_reset_mid_stream(vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([sse_data(chat_chunk({"content": "Hel"})), 0.05], ending="reset"))
    async with httpx.AsyncClient() as client:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            async with client.stream("POST", vendor.url + "/v1/chat/completions", json={}) as response:
                async for _ in response.aiter_raw():
                    pass


async def test_handler_and_keep_alive(vendor: FakeOpenAI) -> None:
    def by_key(request):
        if request.headers.get("authorization") == "Bearer k2":
            return Reply.error(401, "bad key", code="invalid_api_key")
        return None

    vendor.handler = by_key
    async with httpx.AsyncClient(base_url=vendor.url) as client:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        ok = await client.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer k1"})
        bad = await client.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer k2"})
    assert ok.status_code == 200
    assert bad.status_code == 401
    assert vendor.connection_count == 1


async def test_wait_for_requests_times_out(vendor: FakeOpenAI) -> None:
    with pytest.raises(TimeoutError):
        await vendor.wait_for_requests(1, timeout=0.1)
    await asyncio.sleep(0)


async def test_every_request_sees_connection_close(vendor: FakeOpenAI) -> None:
    async with httpx.AsyncClient(base_url=vendor.url) as client:
        for _ in range(2):
            await client.get("/v1/models")
    assert vendor.connection_count == 1
    for request in vendor.requests:
        assert await request.wait_closed(1.0)
        assert not request.closed_early
