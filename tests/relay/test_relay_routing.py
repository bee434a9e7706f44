"""Routing and money cases against fake vendors: mapping, Azure, keys, order, refunds, exact charges."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

from relay_vendor import VENDOR_KEY, content_chunk, finish_chunk, openai_channel, parse_stream, stream_text
from relay_world import (
    add_price_rule,
    balance_micro,
    make_account,
    set_token_price,
    usage_records,
    wait_for_records,
)

from chatnio_host.billing.prices import PriceRule
from chatnio_host.testing_vendors.openai import FakeOpenAI, chat_chunk
from chatnio_host.testing_vendors.server import Reply, sse_data

DONE = b"data: [DONE]\n\n"


def _body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


async def _post(host: Any, key: str, body: dict[str, Any]) -> Any:
    return await host.client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


async def test_token_limit_names_per_model(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI() as vendor:
        await set_token_price(host, ["o3-mini", "gpt-4o"], input="1", output="1")
        account = await make_account(host, points="10")
        await openai_channel(host, vendor, models=["o3-mini", "gpt-4o"])

        for model in ("o3-mini", "gpt-4o"):
            response = await _post(host, account.key, _body(model, max_tokens=256))
            assert response.status_code == 200, response.text
        both = await _post(host, account.key, _body("o3-mini", max_tokens=256, max_completion_tokens=100))
        assert both.status_code == 200

        o3, gpt4o, o3_both = [request.json() for request in vendor.requests_to("/chat/completions")]
        assert o3["max_completion_tokens"] == 256
        assert "max_tokens" not in o3
        assert gpt4o["max_tokens"] == 256
        assert "max_completion_tokens" not in gpt4o
        assert o3_both["max_completion_tokens"] == 100
        assert "max_tokens" not in o3_both


async def test_passes_openai_fields_through(open_host: Any) -> None:
    png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQA"
           "AAABJRU5ErkJggg==")
    content = [{"type": "text", "text": "What is this?"},
               {"type": "image_url", "image_url": {"url": png.replace("image/png", "image/jpeg"), "detail": "low"}}]
    async with open_host() as host, FakeOpenAI() as vendor:
        await set_token_price(host, ["gpt-4o"], input="1", output="1")
        account = await make_account(host, points="10")
        await openai_channel(host, vendor, models=["gpt-4o"])
        body = {
            "model": "gpt-4o", "messages": [{"role": "user", "content": content}], "n": 1, "seed": 42,
            "response_format": {"type": "json_object"}, "temperature": 0.2, "logit_bias": {"50256": -100},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}],
            "tool_choice": "none",
        }

        response = await _post(host, account.key, body)

        assert response.status_code == 200, response.text
        sent = vendor.requests_to("/chat/completions")[0].json()
        assert sent["messages"][0]["content"] == content
        for field in ("n", "seed", "response_format", "temperature", "logit_bias", "tool_choice"):
            assert sent[field] == body[field], field
        assert sent["tools"][0]["function"]["name"] == "f"


async def test_azure_deployments_and_filter_chunk(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI(keys={"AZKEY"}) as vendor:
        await set_token_price(host, ["gpt-3.5-turbo-16k", "gpt-4o", "gpt-4o-mini"], input="1", output="1")
        account = await make_account(host, points="10")
        await openai_channel(
            host, vendor, type="azure", keys="AZKEY", models=["gpt-3.5-turbo-16k", "gpt-4o", "gpt-4o-mini"],
            mapping="gpt-4o>prod-gpt4o", settings={"api_version": "2024-02-01"},
        )

        for model in ("gpt-3.5-turbo-16k", "gpt-4o", "gpt-4o-mini"):
            response = await _post(host, account.key, _body(model, stream=True))
            assert response.status_code == 200, response.text
            payloads = parse_stream(response.content)
            assert stream_text(payloads) == "hi"
            assert all(payload["model"] == model for payload in payloads if isinstance(payload, dict))
            assert all(payload["choices"] for payload in payloads if isinstance(payload, dict))

        paths = [request.path for request in vendor.requests]
        assert paths == [
            "/openai/deployments/gpt-35-turbo-16k/chat/completions",
            "/openai/deployments/prod-gpt4o/chat/completions",
            "/openai/deployments/gpt-4o-mini/chat/completions",
        ]
        assert all(request.query_value("api-version") == "2024-02-01" for request in vendor.requests)
        assert all(request.headers["api-key"] == "AZKEY" for request in vendor.requests)


async def test_mapping_echoes_requested_model(open_host: Any) -> None:
    echoed = "VENDOR/GPT-4o-2024-08-06"
    async with open_host() as host, FakeOpenAI() as vendor_x, FakeOpenAI() as vendor_y:
        await set_token_price(host, ["gpt-4o"], input="1", output="1")
        account = await make_account(host, points="10")
        await openai_channel(host, vendor_x, "X", models=["gpt-4o"], mapping="gpt-4o>vendor/gpt-4o-2024-08-06")
        vendor_x.enqueue(Reply.json({
            "id": "c9", "object": "chat.completion", "created": 1, "model": echoed,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }))
        vendor_x.enqueue(Reply.sse([content_chunk("ok", model=echoed), finish_chunk(model=echoed), DONE]))

        plain = await _post(host, account.key, _body("gpt-4o"))
        streamed = await _post(host, account.key, _body("gpt-4o", stream=True))

        for response in (plain, streamed):
            assert b"vendor/" not in response.content.lower()
        assert plain.json()["model"] == "gpt-4o"
        assert int(plain.headers["content-length"]) == len(plain.content)
        assert all(p["model"] == "gpt-4o" for p in parse_stream(streamed.content) if isinstance(p, dict))
        assert [r.json()["model"] for r in vendor_x.requests] == ["vendor/gpt-4o-2024-08-06"] * 2
        records = await usage_records(host, account.user_id)
        assert all(record.points > 0 for record in records)
        assert all(record.model == "gpt-4o" for record in records)

        await set_token_price(host, ["a"], input="1", output="1")
        await openai_channel(host, vendor_y, "Y", models=["a"], mapping="a>b\nb>c")
        chained = await _post(host, account.key, _body("a"))
        assert chained.status_code == 200
        assert vendor_y.requests[0].json()["model"] == "c"

        cycle = await host.client.post(
            "/api/admin/channels", headers={"Authorization": f"Bearer {await _root_token(host)}"},
            json={"name": "Z", "type": "openai", "endpoint": vendor_y.url, "keys": "k", "models": ["a"],
                  "mapping": "a>b\nb>c\nc>b"},
        )
        assert cycle.status_code == 400


async def _root_token(host: Any) -> str:
    login = await host.client.post("/api/auth/login", json={"username": "root", "password": "chatnio123456"})
    return login.json()["token"]


async def test_priority_order_and_disabled(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI() as a, FakeOpenAI() as d, FakeOpenAI() as b, FakeOpenAI() as c:
        await set_token_price(host, ["m", "m2"], input="1", output="1")
        account = await make_account(host, points="10")
        await openai_channel(host, a, "A", models=["m"], priority=10)
        await openai_channel(host, d, "D", models=["m", "m2"], priority=10, enabled=False)
        await openai_channel(host, b, "B", models=["m"], priority=5)
        await openai_channel(host, c, "C", models=["m"], priority=0)
        a.enqueue(Reply.error(503, "overloaded", type="server_error"))
        b.enqueue(Reply.error(503, "overloaded", type="server_error"))

        response = await _post(host, account.key, _body("m"))

        assert response.status_code == 200
        assert (len(a.requests), len(b.requests), len(c.requests), len(d.requests)) == (1, 1, 1, 0)
        assert a.requests[0].received_at < b.requests[0].received_at < c.requests[0].received_at
        assert all(vendor.requests[0].json()["model"] == "m" for vendor in (a, b, c))

        empty = await _post(host, account.key, _body("m2"))
        assert empty.status_code == 503
        assert empty.json()["error"]["type"] == "service_unavailable_error"
        assert d.requests == []


async def test_weights_share_one_tier(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI() as e, FakeOpenAI() as f, FakeOpenAI() as g, FakeOpenAI() as h:
        await set_token_price(host, ["w", "z"], input="0", output="0")
        account = await make_account(host, points="10")
        await openai_channel(host, e, "E", models=["w"], priority=1, weight=7)
        await openai_channel(host, f, "F", models=["w"], priority=1, weight=3)
        await openai_channel(host, g, "G", models=["z"], priority=1, weight=0)
        await openai_channel(host, h, "H", models=["z"], priority=1, weight=0)

        for _ in range(300):
            assert (await _post(host, account.key, _body("w"))).status_code == 200
        for _ in range(150):
            assert (await _post(host, account.key, _body("z"))).status_code == 200

        # The scheduler's unit tests check the shares over 10,000 seeded picks. Through HTTP,
        # 300 draws at p = 0.7 have a standard deviation of 0.026 and 150 draws at p = 0.5 one of
        # 0.041, so both ranges are about 3.4 standard deviations wide on each side.
        share = len(e.requests) / 300
        assert 0.61 <= share <= 0.79
        zero_share = len(g.requests) / 150
        assert 0.36 <= zero_share <= 0.64


async def test_bad_key_disabled_not_channel(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI(keys={"k1", "k3"}) as vendor:
        await set_token_price(host, ["gpt-4o-mini"], input="1", output="1")
        account = await make_account(host, points="100")
        channel_id = await openai_channel(host, vendor, "K", keys="k1\nk2 \r\nk3\n")

        statuses = [(await _post(host, account.key, _body("gpt-4o-mini"))).status_code for _ in range(30)]

        assert statuses == [200] * 30
        keys = [request.headers["authorization"] for request in vendor.requests]
        assert all(key in ("Bearer k1", "Bearer k2", "Bearer k3") for key in keys)
        if "Bearer k2" in keys:
            first = keys.index("Bearer k2")
            assert "Bearer k2" not in keys[first + 1:]
        used = Counter(keys)
        assert used["Bearer k1"] > 0
        assert used["Bearer k3"] > 0
        channel = await host.ctx.services["channels"].manager.get(channel_id)
        assert channel.enabled

        vendor.keys = {"nobody"}
        for _ in range(5):
            response = await _post(host, account.key, _body("gpt-4o-mini"))
            assert response.status_code >= 500
            assert response.json()["error"]["type"] != "authentication_error"
        assert all(request.headers.get("authorization") not in ("Bearer ", "Bearer undefined")
                   for request in vendor.requests)


async def test_failures_cost_nothing(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI() as a, FakeOpenAI() as b:
        await set_token_price(host, ["gpt-4o-mini"], input="1", output="2")
        account = await make_account(host, points="100")
        await openai_channel(host, a, "A", priority=10)
        await openai_channel(host, b, "B", priority=5)
        start = await balance_micro(host, account.user_id)

        a.enqueue(Reply.error(500, "boom", type="server_error"))
        b.enqueue(Reply.error(500, "boom", type="server_error"))
        every_500 = await _post(host, account.key, _body("gpt-4o-mini"))
        assert every_500.status_code == 502
        assert every_500.json()["error"]["type"] == "upstream_error"

        a.enqueue(Reply(status=200, headers=[("Content-Type", "application/json")], body=b"not json"))
        b.enqueue(Reply(status=200, headers=[("Content-Type", "application/json")], body=b"not json"))
        garbled = await _post(host, account.key, _body("gpt-4o-mini"))
        assert garbled.status_code == 502
        assert await balance_micro(host, account.user_id) == start

        a.enqueue(Reply.error(500, "boom", type="server_error"))
        b.enqueue(Reply.json({
            "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 50, "total_tokens": 60},
        }))
        recovered = await _post(host, account.key, _body("gpt-4o-mini"))

        assert recovered.status_code == 200
        assert recovered.json()["usage"] == {
            "prompt_tokens": 10, "completion_tokens": 50, "total_tokens": 60,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0},
        }
        charged = [record for record in await usage_records(host, account.user_id) if record.points]
        assert len(charged) == 1
        assert charged[0].points == 10 * 1000 + 50 * 2000
        assert await balance_micro(host, account.user_id) == start - 110_000


async def test_exact_charges_round_up_once(open_host: Any) -> None:
    usage = {"prompt_tokens": 123, "completion_tokens": 78, "total_tokens": 201}
    answer = {
        "id": "c", "object": "chat.completion", "created": 1, "model": "exact",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": usage,
    }
    async with open_host() as host, FakeOpenAI() as vendor:
        await set_token_price(host, ["exact"], input="0.0015", output="0.002")
        await add_price_rule(host, PriceRule(type="times", models=["per-call"], output="0.1"))
        account = await make_account(host, points="10")
        await openai_channel(host, vendor, models=["exact", "per-call"])
        start = await balance_micro(host, account.user_id)

        for _ in range(3):
            vendor.enqueue(Reply.json(answer))
            assert (await _post(host, account.key, _body("exact"))).status_code == 200
        # 123 * 0.0015 / 1000 + 78 * 0.002 / 1000 = 0.0003405 points = 340.5 micro-points, rounded up once.
        assert await balance_micro(host, account.user_id) == start - 3 * 341

        middle = await balance_micro(host, account.user_id)
        for _ in range(3):
            assert (await _post(host, account.key, _body("per-call"))).status_code == 200
        assert await balance_micro(host, account.user_id) == middle - 300_000
        records = await wait_for_records(host, account.user_id, 6)
        assert [record.points for record in records] == [341, 341, 341, 100_000, 100_000, 100_000]


async def test_upstream_secrets_never_leak(open_host: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    async with open_host(first_byte_timeout=1.0) as host, FakeOpenAI() as vendor:
        await set_token_price(host, ["gpt-4o-mini"], input="1", output="1")
        account = await make_account(host, points="10")
        channel_id = await openai_channel(host, vendor, retry=1)
        secret_text = f"failed calling {vendor.url}/v1/chat/completions with key={VENDOR_KEY} Authorization: Bearer {VENDOR_KEY}"
        error_event = sse_data({"error": {"message": secret_text, "type": "server_error", "code": "boom"}})
        vendor.enqueue(Reply.error(500, secret_text, type="server_error"))
        vendor.enqueue(Reply.error(400, secret_text))
        vendor.enqueue(Reply.sse([content_chunk("Hi"), error_event, DONE]))
        vendor.enqueue(Reply.stalled())

        bodies = []
        for stream in (False, False, True, False):
            response = await _post(host, account.key, _body("gpt-4o-mini", stream=stream))
            bodies.append(response.content)

        assert json.loads(bodies[0])["error"]["type"] == "upstream_error"
        assert json.loads(bodies[1])["error"]["type"] == "invalid_request_error"
        assert parse_stream(bodies[2])[-1]["error"]["message"]
        assert json.loads(bodies[3])["error"]["type"] == "timeout_error"
        # The fake vendor logs its own address, and database drivers echo SQL parameters (the stored
        # endpoint) at DEBUG; every other record, at every level, must be free of both secrets.
        ignored = ("chatnio_host.testing_vendors", "aiosqlite", "sqlalchemy", "asyncpg", "aiomysql")
        product_records = [record for record in caplog.records if not record.name.startswith(ignored)]
        log_text = "\n".join(record.getMessage() + (record.exc_text or "") for record in product_records)
        assert f"channel://{channel_id}" in log_text
        for secret in (vendor.url, f"127.0.0.1:{vendor.port}", VENDOR_KEY):
            for body in bodies:
                assert secret.encode() not in body
            assert secret not in log_text
        assert f"channel://{channel_id}".encode() in bodies[0]


async def test_embeddings_and_images_errors(open_host: Any) -> None:
    async with open_host() as host, FakeOpenAI() as a, FakeOpenAI() as b:
        await set_token_price(host, ["text-embedding-3-small"], input="1", output="0")
        account = await make_account(host, points="10")
        headers = {"Authorization": f"Bearer {account.key}"}
        await openai_channel(host, a, "A", models=["text-embedding-3-small", "dall-e-3"], priority=10)
        await openai_channel(host, b, "B", models=["text-embedding-3-small"], priority=5)
        start = await balance_micro(host, account.user_id)

        cases = [
            ("/v1/embeddings", {"model": "text-embedding-3-small"}, 400, "input"),
            ("/v1/embeddings", {"model": "text-embedding-3-small", "input": 5}, 400, "input"),
            ("/v1/embeddings", {"input": "x"}, 400, "model"),
            ("/v1/embeddings", {"model": "nobody-serves-this", "input": "x"}, 503, "model"),
            ("/v1/images/generations", {"model": "dall-e-3"}, 400, "prompt"),
            ("/v1/images/generations", {"model": "dall-e-3", "prompt": "a cat"}, 403, "model"),
        ]
        for path, body, status, param in cases:
            response = await host.client.post(path, json=body, headers=headers)
            assert response.status_code == status, (path, body, response.text)
            assert response.json()["error"]["param"] == param
        assert a.requests == []

        a.enqueue(Reply.error(500, "boom", type="server_error"), path="/embeddings")
        recovered = await host.client.post(
            "/v1/embeddings", json={"model": "text-embedding-3-small", "input": "two words"}, headers=headers
        )

        assert recovered.status_code == 200, recovered.text
        assert recovered.json()["model"] == "text-embedding-3-small"
        assert (len(a.requests), len(b.requests)) == (1, 1)
        tokens = recovered.json()["usage"]["prompt_tokens"]
        assert await balance_micro(host, account.user_id) == start - tokens * 1000

        b.enqueue(Reply.error(500, "boom", type="server_error"), path="/embeddings")
        a.enqueue(Reply.error(500, "boom", type="server_error"), path="/embeddings")
        failed = await host.client.post(
            "/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"}, headers=headers
        )
        assert failed.status_code == 502
        assert failed.json()["error"]["type"] == "upstream_error"
        assert await balance_micro(host, account.user_id) == start - tokens * 1000


async def test_azure_content_filter_passes_through(open_host: Any) -> None:
    prompt_filter = sse_data({
        "choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
            "hate": {"filtered": False, "severity": "safe"}}}],
    })
    async with open_host() as host, FakeOpenAI(keys={"AZKEY"}) as vendor:
        await set_token_price(host, ["gpt-4o-mini"], input="1", output="1")
        account = await make_account(host, points="10")
        await openai_channel(host, vendor, type="azure", keys="AZKEY", settings={"api_version": "2024-02-01"})
        vendor.enqueue(Reply.sse([
            prompt_filter, content_chunk("Par", model="gpt-4o-mini"),
            finish_chunk("content_filter", model="gpt-4o-mini"), DONE,
        ]))

        response = await _post(host, account.key, _body("gpt-4o-mini", stream=True))

        payloads = parse_stream(response.content)
        assert stream_text(payloads) == "Par"
        reasons = [choice["finish_reason"] for p in payloads if isinstance(p, dict) for choice in p["choices"]
                   if choice["finish_reason"]]
        assert reasons == ["content_filter"]
        assert payloads[-1] == "[DONE]"
        assert all(p["choices"] for p in payloads if isinstance(p, dict))
