"""The aiohttp upstream client against the fake vendor: timeouts, broken streams, masking."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chatnio_host.channels.base import UpstreamFailure, UpstreamTarget
from chatnio_host.relay import masking
from chatnio_host.relay.upstream import AiohttpUpstream, classify_status, parse_error_body, parse_retry_after
from chatnio_host.testing import make_settings
from chatnio_host.testing_vendors import FakeOpenAI, Reply, chat_chunk, sse_data

KEY = "sk-secret-channel-key-1234567890abcd"


@pytest.fixture
async def vendor():
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def upstream(tmp_path: Path):
    settings = make_settings(tmp_path, first_byte_timeout=0.5, idle_timeout=0.5, max_stream_duration=2.0,
                             sse_max_event_bytes=4096)
    client = AiohttpUpstream(settings)
    await client.start()
    yield client
    await client.close()


def target_for(vendor: FakeOpenAI, channel_id: int = 7, key: str = KEY) -> UpstreamTarget:
    return UpstreamTarget(channel_id=channel_id, channel_type="openai", endpoint=vendor.url, key=key, model="gpt-4o")


async def collect(upstream: AiohttpUpstream, vendor: FakeOpenAI, target: UpstreamTarget) -> list[str]:
    async with upstream.stream("POST", vendor.url + "/v1/chat/completions", target, json={}) as stream:
        return [event.data async for event in stream.events()]


async def test_request_reads_body(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    target = target_for(vendor)
    response = await upstream.request("POST", vendor.url + "/v1/chat/completions", target,
                                      headers={"Authorization": f"Bearer {KEY}"},
                                      json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi you"}]})
    assert response.status == 200
    assert response.json()["choices"][0]["message"]["content"] == "hi you"
    recorded = vendor.requests[0]
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.body.startswith(b'{"model":"gpt-4o"')
    assert recorded.headers["user-agent"].startswith("chatnio/")


async def test_stream_events_in_order(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([b"data: 1\n\n", 0.02, b"data: 2\r\n\r\n", b": ping\n\n", b"data: [DONE]\n\n"]))
    assert await collect(upstream, vendor, target_for(vendor)) == ["1", "2", "[DONE]"]


async def test_no_headers_is_first_byte_timeout(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.stalled())
    started = time.monotonic()
    with pytest.raises(UpstreamFailure) as caught:
        await collect(upstream, vendor, target_for(vendor))
    elapsed = time.monotonic() - started
    assert caught.value.kind == "timeout"
    assert 0.4 < elapsed < 1.5
    assert "first_byte_timeout" in caught.value.message
    assert await vendor.requests[0].wait_closed(2.0)


async def test_headers_without_event_is_first_byte_timeout(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([b": ping\n\n", 0.2, b": ping\n\n"], ending="hold"))
    started = time.monotonic()
    with pytest.raises(UpstreamFailure) as caught:
        await collect(upstream, vendor, target_for(vendor))
    assert caught.value.kind == "timeout"
    assert "first_byte_timeout" in caught.value.message
    assert time.monotonic() - started < 1.5


async def test_idle_after_first_event(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([sse_data(chat_chunk({"content": "Hi"}))], ending="hold"))
    seen: list[str] = []
    started = time.monotonic()
    with pytest.raises(UpstreamFailure) as caught:
        async with upstream.stream("POST", vendor.url + "/v1/chat/completions", target_for(vendor)) as stream:
            async for event in stream.events():
                seen.append(event.data)
    assert len(seen) == 1
    assert caught.value.kind == "timeout"
    assert "idle_timeout" in caught.value.message
    assert time.monotonic() - started < 1.5
    assert await vendor.requests[0].wait_closed(2.0)


async def test_comments_do_not_reset_idle(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    pings: list[bytes | float] = [b"data: first\n\n"]
    for _ in range(20):
        pings += [0.1, b": ping\n\n"]
    vendor.enqueue(Reply.sse(pings))
    started = time.monotonic()
    with pytest.raises(UpstreamFailure) as caught:
        await collect(upstream, vendor, target_for(vendor))
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 1.2


async def test_max_stream_duration(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    events: list[bytes | float] = []
    for number in range(40):
        events += [f"data: {number}\n\n".encode(), 0.1]
    vendor.enqueue(Reply.sse(events))
    started = time.monotonic()
    with pytest.raises(UpstreamFailure) as caught:
        await collect(upstream, vendor, target_for(vendor))
    assert caught.value.kind == "timeout"
    assert "max_stream_duration" in caught.value.message
    assert 1.8 < time.monotonic() - started < 3.0


async def test_reset_mid_stream_is_connect(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([b"data: Hel\n\n", 0.05], ending="reset"))
    seen: list[str] = []
    with pytest.raises(UpstreamFailure) as caught:
        async with upstream.stream("POST", vendor.url + "/v1/chat/completions", target_for(vendor)) as stream:
            async for event in stream.events():
                seen.append(event.data)
    assert seen == ["Hel"]
    assert caught.value.kind == "connect"


async def test_close_without_terminator_is_connect(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([b"data: Hel\n\n"], ending="close"))
    with pytest.raises(UpstreamFailure) as caught:
        await collect(upstream, vendor, target_for(vendor))
    assert caught.value.kind == "connect"


async def test_event_over_cap_is_invalid(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([b"data: " + b"a" * 10000 + b"\n\n"], slice_size=1000))
    with pytest.raises(UpstreamFailure) as caught:
        await collect(upstream, vendor, target_for(vendor))
    assert caught.value.kind == "invalid"
    assert "sse_max_event_bytes" in caught.value.message


async def test_leaving_early_closes_connection(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([b"data: 1\n\n", b"data: [DONE]\n\n"], ending="hold"))
    async with upstream.stream("POST", vendor.url + "/v1/chat/completions", target_for(vendor)) as stream:
        async for event in stream.events():
            if event.data == "[DONE]":
                break
    assert await vendor.requests[0].wait_closed(1.0)


async def test_complete_stream_reuses_connection(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    for _ in range(3):
        vendor.enqueue(Reply.sse([b"data: [DONE]\n\n"]))
        assert await collect(upstream, vendor, target_for(vendor)) == ["[DONE]"]
    assert vendor.connection_count == 1


async def test_cancel_closes_connection(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.sse([b"data: 1\n\n"] + [0.05, b"data: x\n\n"] * 50))

    async def consume() -> None:
        await collect(upstream, vendor, target_for(vendor))

    task = asyncio.create_task(consume())
    await vendor.wait_for_requests(1)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await vendor.requests[0].wait_closed(1.0)
    assert vendor.requests[0].closed_early


async def test_connect_refused_is_sanitised(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    endpoint = vendor.url
    await vendor.stop()
    target = UpstreamTarget(channel_id=3, channel_type="openai", endpoint=endpoint, key=KEY, model="m")
    with pytest.raises(UpstreamFailure) as caught:
        await upstream.request("GET", endpoint + f"/v1/models?key={KEY}", target)
    assert caught.value.kind == "connect"
    assert "channel://3" in caught.value.message
    assert endpoint.removeprefix("http://") not in caught.value.message
    assert KEY not in caught.value.message


async def test_proxy_used_per_channel(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    async with FakeOpenAI() as proxy:
        target = UpstreamTarget(channel_id=4, channel_type="openai", endpoint=vendor.url, key=KEY, model="m",
                                proxy=proxy.url)
        response = await upstream.request("GET", vendor.url + "/v1/models", target)
        assert response.status == 200
        assert proxy.requests[0].target == vendor.url + "/v1/models"
    assert vendor.requests == []


async def test_bad_proxy_scheme_rejected(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    target = UpstreamTarget(channel_id=4, channel_type="openai", endpoint=vendor.url, key=KEY, model="m",
                            proxy="ftp://127.0.0.1:1")
    with pytest.raises(UpstreamFailure, match="http:// or https://"):
        await upstream.request("GET", vendor.url + "/v1/models", target)


async def test_error_stream_read(upstream: AiohttpUpstream, vendor: FakeOpenAI) -> None:
    vendor.enqueue(Reply.error(503, f"overloaded at {vendor.url} for key {KEY}", type="server_error"))
    target = target_for(vendor)
    async with upstream.stream("POST", vendor.url + "/v1/chat/completions", target) as stream:
        assert stream.status == 503
        body = await stream.read()
    failure = upstream.failure_from_response(stream.status, body, target, headers=stream.headers)
    assert failure.kind == "server"
    assert failure.message == "overloaded at channel://7 for key ****abcd"


@pytest.mark.parametrize(
    ("status", "type_", "code", "kind"),
    [
        (401, None, "invalid_api_key", "auth"),
        (403, None, None, "auth"),
        (402, None, None, "auth"),
        (404, None, "model_not_found", "not_found"),
        (408, None, None, "server"),
        (429, "requests", "rate_limit_exceeded", "rate_limit"),
        (429, "insufficient_quota", "insufficient_quota", "auth"),
        (400, "invalid_request_error", None, "request"),
        (413, None, None, "request"),
        (422, None, None, "request"),
        (400, None, "content_policy_violation", "request"),
        (403, None, "content_filter", "request"),
        (500, None, None, "server"),
        (502, None, None, "server"),
        (529, "overloaded_error", None, "server"),
    ],
)
def test_classify_status(status: int, type_: str | None, code: str | None, kind: str) -> None:
    assert classify_status(status, type=type_, code=code) == kind


def test_failure_from_status_retry_after(upstream: AiohttpUpstream) -> None:
    target = UpstreamTarget(channel_id=1, channel_type="openai", endpoint="https://api.example.com", key=KEY, model="m")
    failure = upstream.failure_from_status(429, "slow down", target, headers={"Retry-After": "2"})
    assert failure.kind == "rate_limit"
    assert failure.retry_after == 2.0
    assert failure.retryable


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"Retry-After-Ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_parse_error_body_shapes() -> None:
    assert parse_error_body(b'{"error":{"message":"m","type":"t","code":"c","param":"p"}}') == ("m", "t", "c", "p")
    assert parse_error_body(b'{"error":{"code":"404","message":"Resource not found"}}') == (
        "Resource not found", None, "404", None)
    assert parse_error_body(b'{"error":"plain"}') == ("plain", None, None, None)
    assert parse_error_body(b'{"message":"top"}') == ("top", None, None, None)
    assert parse_error_body(b"<html>bad gateway</html>") == ("<html>bad gateway</html>", None, None, None)
    assert parse_error_body(b"") == ("", None, None, None)


def test_sanitize_masks_every_form(upstream: AiohttpUpstream) -> None:
    target = UpstreamTarget(channel_id=9, channel_type="openai", endpoint="https://api.vendor.example/v1/", key=KEY,
                            model="m")
    text = (
        "POST https://api.vendor.example/v1/chat failed; host api.vendor.example; "
        f"also http://api.vendor.example:8443/x; key {KEY}; ?key=AIzaSyABCDEFGH12345 "
        "Authorization: Bearer other-token-9876; x-api-key: anthropic-key-5555; "
        '"api-key": "azurekey00001111"; sk-anotherSecretKey0000zzzz'
    )
    masked = upstream.sanitize(text, target)
    assert "api.vendor.example" not in masked
    assert masked.count("channel://9") == 3
    assert KEY not in masked
    assert "****abcd" in masked
    assert "key=****2345" in masked
    assert "Authorization: Bearer ****9876" in masked
    assert "x-api-key: ****5555" in masked
    assert '"api-key": "****1111"' in masked
    assert "sk-anotherSecretKey0000zzzz" not in masked
    assert "****zzzz" in masked


def test_sanitize_short_and_multipart_keys(upstream: AiohttpUpstream) -> None:
    target = UpstreamTarget(channel_id=2, channel_type="x", endpoint="", key="appid123|secretvalue99|k",
                            model="m")
    masked = upstream.sanitize("parts appid123 and secretvalue99", target)
    assert "appid123" not in masked
    assert "secretvalue99" not in masked
    assert masked == "parts **** and ****ue99"


async def test_logs_are_masked(upstream: AiohttpUpstream, vendor: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    target = target_for(vendor, channel_id=11)
    vendor.enqueue(Reply.error(500, f"boom {KEY} at {vendor.url}/v1"))
    response = await upstream.request("POST", vendor.url + "/v1/chat/completions", target, json={})
    upstream.failure_from_response(response.status, response.body, target)
    logging.getLogger("chatnio_host.relay.test").warning("raw line %s %s", KEY, vendor.url)
    text = caplog.text
    assert KEY not in text
    assert vendor.url not in text
    assert "channel://11" in text


async def test_multipart_keys_masked_in_logs(upstream: AiohttpUpstream, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    masking.remember(21, "https://multi.example", "appid-0001|secret-part-0002")
    logging.getLogger("chatnio_host.channels.test").info("signing with secret-part-0002 for multi.example")
    assert "secret-part-0002" not in caplog.text
    assert "multi.example" not in caplog.text
    assert "channel://21" in caplog.text


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_untrusted_tls_rejected(upstream: AiohttpUpstream, tmp_path: Path) -> None:
    cert_path, key_path = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    endpoint = f"https://127.0.0.1:{port}"
    target = UpstreamTarget(channel_id=8, channel_type="openai", endpoint=endpoint, key=KEY, model="m")
    try:
        with pytest.raises(UpstreamFailure) as caught:
            await upstream.request("GET", endpoint + "/v1/models", target)
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.kind == "connect"
    assert "certificate" in caught.value.message.lower()
    assert f"127.0.0.1:{port}" not in caught.value.message


async def test_log_masking_keeps_client_ips(upstream: AiohttpUpstream, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    masking.remember(22, "http://10.1.2.3:8080/v1", "sk-another-key-998877665544")
    logging.getLogger("chatnio_host.auth.test").info("login from 10.1.2.3; upstream http://10.1.2.3:8080/v1/x failed")
    assert "login from 10.1.2.3;" in caplog.text
    assert "upstream channel://22/x failed" in caplog.text


async def test_tracebacks_masked_in_logs(upstream: AiohttpUpstream, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    masking.remember(23, "https://trace.example", "sk-traceback-secret-4242")
    try:
        raise RuntimeError("failed at https://trace.example/v1 with sk-traceback-secret-4242")
    except RuntimeError:
        logging.getLogger("chatnio_host.relay.test").exception("upstream call failed")
    assert "sk-traceback-secret-4242" not in caplog.text
    assert "trace.example" not in caplog.text
    assert "RuntimeError: failed at channel://23/v1 with ****4242" in caplog.text


async def test_access_log_args_kept(
    upstream: AiohttpUpstream, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = logging.getLogger("uvicorn.access")
    # A uvicorn server started by an earlier test sets this logger to stop propagating.
    monkeypatch.setattr(access, "propagate", True)
    monkeypatch.setattr(access, "disabled", False)
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                "/v1beta/models?key=AIzaSyUSERKEY123456", "1.1", 200)
    record = caplog.records[-1]
    assert isinstance(record.args, tuple)
    assert record.args[2] == "/v1beta/models?key=****3456"
    assert "AIzaSyUSERKEY123456" not in caplog.text
