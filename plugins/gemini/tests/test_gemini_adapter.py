"""The gemini adapter against the fake Gemini vendor, through the host's upstream client."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from chatnio_host.channels.base import UpstreamFailure, UpstreamTarget
from chatnio_host.relay.canonical import (
    ChatRequest,
    Finish,
    ImagePart,
    Message,
    StreamError,
    TextDelta,
    TextPart,
    Tool,
    ToolCallDelta,
    UsageEvent,
)
from chatnio_host.relay.upstream import AiohttpUpstream
from chatnio_host.testing_vendors.gemini import FakeGemini, gemini_chunk, gemini_error, gemini_sse
from chatnio_host.testing import make_settings
from chatnio_host.testing_vendors.server import FakeVendor, Reply

from chatnio_gemini.adapter import GeminiAdapter


async def collect(adapter: GeminiAdapter, request: ChatRequest, target: UpstreamTarget) -> list:
    return [event async for event in adapter.chat(request, target)]


def hello(stream: bool = True, **kwargs) -> ChatRequest:
    return ChatRequest(model="gemini", stream=stream, messages=[
        Message(role="system", content=[TextPart("Be brief.")]), Message(role="user", content=[TextPart("hello there")])],
        **kwargs)


async def test_stream_key_in_header_never_in_url(upstream: AiohttpUpstream, vendor: FakeGemini,
                                                 target: UpstreamTarget) -> None:
    events = await collect(GeminiAdapter(upstream), hello(), target)
    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == "hello there"
    assert Finish("stop") in events
    assert isinstance(events[-1], UsageEvent)
    sent = vendor.requests[0]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert sent.query == {"alt": ["sse"]}
    assert "key=" not in sent.target
    assert sent.headers["x-goog-api-key"] == target.key
    assert sent.json()["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


async def test_non_stream_function_call(upstream: AiohttpUpstream, vendor: FakeGemini, target: UpstreamTarget) -> None:
    events = await collect(GeminiAdapter(upstream), hello(stream=False, tools=[Tool(name="get_time")]), target)
    sent = vendor.requests[0]
    assert sent.path.endswith(":generateContent")
    assert "key=" not in sent.target
    calls = [event for event in events if isinstance(event, ToolCallDelta)]
    assert calls[0].name == "get_time"
    assert json.loads("".join(call.arguments for call in calls)) == {"text": "hello there"}
    assert Finish("tool_calls") in events


async def test_stream_safety_block(upstream: AiohttpUpstream, vendor: FakeGemini, target: UpstreamTarget) -> None:
    vendor.enqueue(Reply.sse([
        gemini_sse(gemini_chunk([{"text": "Some"}])),
        gemini_sse(gemini_chunk([{"text": " more"}], finish_reason="SAFETY",
                                usage={"promptTokenCount": 12, "candidatesTokenCount": 2, "totalTokenCount": 14})),
    ]))
    events = await collect(GeminiAdapter(upstream), hello(), target)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Some", " more"]
    assert Finish("content_filter") in events
    assert events[-1].usage.input_tokens == 12


async def test_non_stream_prompt_block(upstream: AiohttpUpstream, vendor: FakeGemini, target: UpstreamTarget) -> None:
    vendor.enqueue(Reply.json({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                               "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}}))
    events = await collect(GeminiAdapter(upstream), hello(stream=False), target)
    assert events[0] == Finish("content_filter")
    assert events[1].usage.input_tokens == 8


async def test_bad_key_is_auth_failure_and_masked(upstream: AiohttpUpstream, vendor: FakeGemini,
                                                  target: UpstreamTarget) -> None:
    target.key = "AIzaSyWrong-9876543210zyxwvu"
    with pytest.raises(UpstreamFailure) as caught:
        await collect(GeminiAdapter(upstream), hello(), target)
    assert caught.value.kind == "auth"
    assert target.key not in caught.value.message


@pytest.mark.parametrize(("status", "rpc", "kind"), [
    (429, "RESOURCE_EXHAUSTED", "rate_limit"), (503, "UNAVAILABLE", "server"), (404, "NOT_FOUND", "not_found"),
    (400, "INVALID_ARGUMENT", "request"),
])
async def test_http_errors_classified(upstream: AiohttpUpstream, vendor: FakeGemini, target: UpstreamTarget,
                                      status: int, rpc: str, kind: str) -> None:
    vendor.enqueue(gemini_error(status, "failed", rpc))
    with pytest.raises(UpstreamFailure) as caught:
        await collect(GeminiAdapter(upstream), hello(), target)
    assert caught.value.kind == kind


async def test_error_chunk_before_content_falls_through(upstream: AiohttpUpstream, vendor: FakeGemini,
                                                        target: UpstreamTarget) -> None:
    vendor.enqueue(Reply.sse([gemini_sse({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})]))
    with pytest.raises(UpstreamFailure) as caught:
        await collect(GeminiAdapter(upstream), hello(), target)
    assert caught.value.retryable


async def test_reset_after_content_is_stream_error(upstream: AiohttpUpstream, vendor: FakeGemini,
                                                   target: UpstreamTarget) -> None:
    vendor.enqueue(Reply.sse([gemini_sse(gemini_chunk([{"text": "Hel"}]))], ending="reset"))
    events = await collect(GeminiAdapter(upstream), hello(), target)
    assert events[0] == TextDelta("Hel")
    assert isinstance(events[-1], StreamError)
    assert not any(isinstance(event, Finish) for event in events)


async def test_tool_schema_accepted_by_vendor(upstream: AiohttpUpstream, vendor: FakeGemini,
                                              target: UpstreamTarget) -> None:
    tool = Tool(name="classify", parameters={"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                                             "additionalProperties": False,
                                             "properties": {"label": {"type": "string"}}})
    events = await collect(GeminiAdapter(upstream), hello(tools=[tool], tool_choice="classify"), target)
    assert any(isinstance(event, ToolCallDelta) and event.name == "classify" for event in events)


async def test_list_models(upstream: AiohttpUpstream, vendor: FakeGemini, target: UpstreamTarget) -> None:
    assert await GeminiAdapter(upstream).list_models(target) == ["gemini-2.5-flash", "gemini-2.5-pro"]
    assert "key=" not in vendor.requests[0].target


async def test_stream_ends_at_final_chunk_when_socket_held(upstream: AiohttpUpstream, vendor: FakeGemini,
                                                           target: UpstreamTarget) -> None:
    vendor.enqueue(Reply.sse([gemini_sse(gemini_chunk([{"text": "Hi"}], finish_reason="STOP",
                                                      usage={"promptTokenCount": 3, "candidatesTokenCount": 1}))],
                             ending="hold", hold_seconds=30))
    events = await asyncio.wait_for(collect(GeminiAdapter(upstream), hello(), target), timeout=3)
    assert events[-2:] == [Finish("stop"), events[-1]]
    assert isinstance(events[-1], UsageEvent)


PNG_BYTES = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


class ImageServer(FakeVendor):
    """Serves a PNG at /cat.png and a redirect to a given URL at /redirect."""

    redirect_to = ""

    def default_reply(self, request):
        if request.path == "/cat.png":
            return Reply(headers=[("Content-Type", "image/png")], body=PNG_BYTES)
        if request.path == "/redirect":
            return Reply(status=302, headers=[("Location", self.redirect_to)], body=b"")
        return Reply(status=404, body=b"")


def image_request(url: str) -> ChatRequest:
    return ChatRequest(model="gemini", stream=True, messages=[Message(role="user", content=[
        TextPart("What is this?"), ImagePart(url=url)])])


async def test_remote_image_fetched_and_inlined(tmp_path, vendor: FakeGemini, target: UpstreamTarget) -> None:
    client = AiohttpUpstream(make_settings(tmp_path, fetch_allow_hosts=["127.0.0.1"]))
    await client.start()
    try:
        async with ImageServer() as images:
            await collect(GeminiAdapter(client), image_request(f"{images.url}/cat.png"), target)
    finally:
        await client.close()
    parts = vendor.requests[0].json()["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG_BYTES).decode()}}


async def test_remote_image_on_loopback_refused(upstream: AiohttpUpstream, vendor: FakeGemini,
                                                target: UpstreamTarget) -> None:
    async with ImageServer() as images:
        with pytest.raises(UpstreamFailure) as caught:
            await collect(GeminiAdapter(upstream), image_request(f"{images.url}/cat.png"), target)
        assert images.requests == []
    assert caught.value.kind == "request"
    assert "127.0.0.1" in caught.value.message
    assert vendor.requests == []


async def test_redirect_to_loopback_refused(tmp_path, vendor: FakeGemini, target: UpstreamTarget) -> None:
    client = AiohttpUpstream(make_settings(tmp_path, fetch_allow_hosts=["localhost"]))
    await client.start()
    try:
        async with ImageServer() as images:
            images.redirect_to = f"{images.url}/cat.png"
            with pytest.raises(UpstreamFailure) as caught:
                await collect(GeminiAdapter(client), image_request(f"http://localhost:{images.port}/redirect"), target)
            assert [request.path for request in images.requests] == ["/redirect"]
    finally:
        await client.close()
    assert caught.value.kind == "request"
    assert "127.0.0.1" in caught.value.message
