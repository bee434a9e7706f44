"""The relay pipeline with a scripted vendor: fall-through, status codes, commit point, money."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import select
from relay_scripted import SCRIPTS, STALL, ok
from relay_world import (
    add_channel,
    balance_micro,
    make_account,
    serve,
    set_token_price,
    usage_records,
    wait_for_records,
)

from chatnio_host.channels.base import UpstreamFailure
from chatnio_host.channels.service import cooldown_key
from chatnio_host.db.models.channel import ChannelKey
from chatnio_host.relay.canonical import Finish, StreamError, TextDelta, Usage, UsageEvent
from chatnio_host.relay.estimate import count_tokens

MODEL = "m"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _sse_payloads(text: str) -> list[Any]:
    payloads = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        data = block[len("data: "):]
        payloads.append(data if data == "[DONE]" else json.loads(data))
    return payloads


def _server_failure(status: int = 503) -> UpstreamFailure:
    return UpstreamFailure("server", f"upstream answered {status}", status=status)


async def _world(host: Any, *, points: str = "100") -> Any:
    await set_token_price(host, [MODEL], input="1", output="2")
    return await make_account(host, points=points)


async def test_fall_through_in_tier_order(open_host: Any) -> None:
    async with open_host() as host:
        account = await _world(host)
        a = await add_channel(host, name="A", type="scripted", models=[MODEL], priority=10)
        await add_channel(host, name="D", type="scripted", models=[MODEL], priority=10, enabled=False)
        b = await add_channel(host, name="B", type="scripted", models=[MODEL], priority=5)
        c = await add_channel(host, name="C", type="scripted", models=[MODEL], priority=0)
        SCRIPTS.add("A", _server_failure())
        SCRIPTS.add("B", _server_failure())
        SCRIPTS.add("C", TextDelta("from C"), Finish("stop"), UsageEvent(Usage(10, 50)))

        response = await host.client.post("/v1/chat/completions", json=BODY, headers=_auth(account.key))

        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "from C"
        assert response.json()["model"] == MODEL
        assert SCRIPTS.channel_ids() == [a, b, c]
        assert all(call.model == MODEL for call in SCRIPTS.calls)
        records = await usage_records(host, account.user_id)
        assert len(records) == 1
        assert records[0].channel_id == c
        assert (records[0].input_tokens, records[0].output_tokens) == (10, 50)
        assert records[0].points == 110_000
        assert await balance_micro(host, account.user_id) == 100_000_000 - 110_000


async def test_status_when_every_channel_fails(open_host: Any) -> None:
    async with open_host(first_byte_timeout=0.3) as host:
        account = await _world(host)
        await add_channel(host, name="A", type="scripted", models=[MODEL], priority=10)
        await add_channel(host, name="B", type="scripted", models=[MODEL], priority=5)
        start = await balance_micro(host, account.user_id)
        cases = [
            ([_server_failure(500)], [_server_failure(502)], 502, "upstream_error"),
            ([STALL], [STALL], 504, "timeout_error"),
            ([UpstreamFailure("rate_limit", "slow down", status=429, retry_after=1)],
             [UpstreamFailure("rate_limit", "slow down", status=429, retry_after=1)], 429, "rate_limit_error"),
            ([UpstreamFailure("rate_limit", "slow down", status=429)], [STALL], 502, "upstream_error"),
        ]
        for first, second, status, error_type in cases:
            SCRIPTS.by_channel.clear()
            SCRIPTS.add("A", *first)
            SCRIPTS.add("B", *second)
            response = await host.client.post("/v1/chat/completions", json=BODY, headers=_auth(account.key))
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/json"
            assert response.json()["error"]["type"] == error_type
            # Rate-limited keys cool down; clear them so the next case reaches both channels.
            async with host.ctx.db.session() as session:
                key_ids = list(await session.scalars(select(ChannelKey.id)))
            for key_id in key_ids:
                await host.ctx.state.delete(cooldown_key(key_id))
            await host.ctx.services["channels"].invalidate()

        assert await balance_micro(host, account.user_id) == start


async def test_request_errors_pass_through(open_host: Any) -> None:
    async with open_host() as host:
        account = await _world(host)
        a = await add_channel(host, name="A", type="scripted", models=[MODEL], priority=10)
        await add_channel(host, name="B", type="scripted", models=[MODEL], priority=5)
        SCRIPTS.add("A", UpstreamFailure("request", "max_tokens too large", status=400, code="invalid_value"))

        response = await host.client.post("/v1/chat/completions", json=BODY, headers=_auth(account.key))

        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert "max_tokens too large" in response.json()["error"]["message"]
        assert SCRIPTS.channel_ids() == [a]


async def test_error_before_content_falls_through(open_host: Any) -> None:
    async with open_host() as host:
        account = await _world(host)
        await add_channel(host, name="A", type="scripted", models=[MODEL], priority=10)
        b = await add_channel(host, name="B", type="scripted", models=[MODEL], priority=5)
        SCRIPTS.add("A", StreamError("Engine queue full", type="server_error", code="503"))
        SCRIPTS.add("B", *ok("fine"))

        body = {**BODY, "stream": True}
        response = await host.client.post("/v1/chat/completions", json=body, headers=_auth(account.key))

        assert response.status_code == 200
        payloads = _sse_payloads(response.text)
        assert "".join(p["choices"][0]["delta"].get("content", "") for p in payloads[:-1] if p["choices"]) == "fine"
        assert payloads[-1] == "[DONE]"
        records = await wait_for_records(host, account.user_id, 1)
        assert [record.channel_id for record in records] == [b]


async def test_error_after_content_ends_stream(open_host: Any) -> None:
    async with open_host() as host:
        account = await _world(host)
        await add_channel(host, name="A", type="scripted", models=[MODEL], priority=10)
        await add_channel(host, name="B", type="scripted", models=[MODEL], priority=5)
        SCRIPTS.add("A", TextDelta("Hel"), StreamError("Engine queue full, please retry", type="server_error", code="503"))

        body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
        response = await host.client.post("/v1/chat/completions", json=body, headers=_auth(account.key))

        assert response.status_code == 200
        payloads = _sse_payloads(response.text)
        assert payloads[0]["choices"][0]["delta"]["content"] == "Hel"
        assert payloads[-1]["error"]["message"] == "Engine queue full, please retry"
        assert payloads[-1]["error"]["type"] == "server_error"
        assert "[DONE]" not in payloads
        assert not any(p.get("choices") and p["choices"][0].get("finish_reason") == "stop" for p in payloads[:-1])
        assert len(SCRIPTS.calls) == 1
        records = await wait_for_records(host, account.user_id, 1)
        assert records[0].output_tokens == count_tokens("Hel")
        assert records[0].usage_source != "vendor"
        assert records[0].status == "stream_error"


async def test_idle_timeout_after_content(open_host: Any) -> None:
    async with open_host(idle_timeout=0.5) as host:
        account = await _world(host)
        await add_channel(host, name="A", type="scripted", models=[MODEL])
        SCRIPTS.add("A", TextDelta("Hi"), STALL)

        body = {**BODY, "stream": True}
        response = await host.client.post("/v1/chat/completions", json=body, headers=_auth(account.key))

        payloads = _sse_payloads(response.text)
        assert payloads[0]["choices"][0]["delta"]["content"] == "Hi"
        assert payloads[-1]["error"]["type"] == "timeout_error"
        assert SCRIPTS.calls[0].closed is True
        records = await wait_for_records(host, account.user_id, 1)
        assert records[0].output_tokens == count_tokens("Hi")
        assert records[0].status == "timeout"


async def test_refusals_before_any_call(open_host: Any) -> None:
    async with open_host() as host:
        account = await _world(host, points="0.000001")
        limited = await make_account(host, points="100", allowed_models=["other"])
        await add_channel(host, name="A", type="scripted", models=[MODEL, "unpriced"])

        cases = [
            (account.key, {**BODY}, 403, "insufficient_quota"),
            (limited.key, {**BODY}, 403, "permission_error"),
            (limited.key, {**BODY, "model": "nobody-serves-this"}, 403, "permission_error"),
            (account.key, {**BODY, "model": "unpriced"}, 403, "permission_error"),
            (account.key, {**BODY, "model": "nobody-serves-this"}, 503, "service_unavailable_error"),
            ("sk-wrong", {**BODY}, 401, "authentication_error"),
        ]
        for key, body, status, error_type in cases:
            response = await host.client.post("/v1/chat/completions", json=body, headers=_auth(key))
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"]["type"] == error_type
        assert SCRIPTS.calls == []


async def test_models_list_follows_access(open_host: Any) -> None:
    async with open_host() as host:
        account = await _world(host)
        admin = await make_account(host, admin=True)
        limited = await make_account(host, allowed_models=["other"])
        await add_channel(host, name="A", type="scripted", models=[MODEL, "unpriced"])
        await add_channel(host, name="B", type="scripted", models=["pro-only"], groups=["pro"])
        await set_token_price(host, ["pro-only"], input="1", output="1")

        listed = await host.client.get("/v1/models", headers=_auth(account.key))
        assert [item["id"] for item in listed.json()["data"]] == [MODEL]
        admin_listed = await host.client.get("/v1/models", headers=_auth(admin.key))
        assert [item["id"] for item in admin_listed.json()["data"]] == [MODEL, "unpriced"]
        limited_listed = await host.client.get("/v1/models", headers=_auth(limited.key))
        assert limited_listed.json()["data"] == []

        one = await host.client.get(f"/v1/models/{MODEL}", headers=_auth(account.key))
        assert one.json()["id"] == MODEL
        hidden = await host.client.get("/v1/models/unpriced", headers=_auth(account.key))
        assert hidden.status_code == 404
        assert hidden.json()["error"]["type"] == "not_found_error"
        pro = await host.client.post(
            "/v1/chat/completions", json={**BODY, "model": "pro-only"}, headers=_auth(account.key)
        )
        assert pro.status_code == 403


async def test_disconnect_cancels_and_bills_delivered(open_host: Any) -> None:
    async with open_host() as host:
        account = await _world(host)
        await add_channel(host, name="A", type="scripted", models=[MODEL])
        words = [f" word{index}" for index in range(20)]
        steps: list[Any] = []
        for word in words:
            steps += [TextDelta(word), 0.2]
        SCRIPTS.add("A", *steps, Finish("stop"))

        async with serve(host) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            received: list[str] = []
            body = {**BODY, "stream": True}
            async with client.stream("POST", "/v1/chat/completions", json=body, headers=_auth(account.key)) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        received.append(json.loads(line[6:])["choices"][0]["delta"]["content"])
                    if len(received) == 3:
                        break
            records = await wait_for_records(host, account.user_id, 1)

        await asyncio.sleep(0)
        assert SCRIPTS.calls[0].closed is True
        assert len(records) == 1
        assert records[0].status == "client_closed"
        delivered = count_tokens("".join(received))
        # The fourth chunk may already sit in the socket buffer when the client leaves.
        assert delivered <= records[0].output_tokens <= count_tokens("".join(words[:4]))


async def test_hooks_and_web_search(open_host: Any) -> None:
    async with open_host() as host:
        account = await _world(host)
        await add_channel(host, name="A", type="scripted", models=[MODEL, "blocked-by-policy"])
        await set_token_price(host, ["blocked-by-policy"], input="1", output="1")

        blocked = await host.client.post(
            "/v1/chat/completions", json={**BODY, "model": "blocked-by-policy"}, headers=_auth(account.key)
        )
        assert blocked.status_code == 403
        assert blocked.json()["error"]["code"] == "blocked"
        assert SCRIPTS.calls == []

        await host.ctx.site.put(
            "search", {"enabled": True, "provider": "scripted-search", "providers": {"scripted-search": {}}}
        )
        body = {"model": f"web-{MODEL}", "messages": [{"role": "user", "content": "latest relay news"}]}
        searched = await host.client.post("/v1/chat/completions", json=body, headers=_auth(account.key))

        assert searched.status_code == 200, searched.text
        assert searched.json()["model"] == f"web-{MODEL}"
        assert SCRIPTS.calls[0].model == MODEL
        sent = SCRIPTS.requests[0].messages[-1].text()
        assert "About latest relay news" in sent
        assert "<search_results" in sent
        assert [outcome.status for outcome in SCRIPTS.outcomes] == ["success"]
        assert SCRIPTS.outcomes[0].model == f"web-{MODEL}"
        records = await usage_records(host, account.user_id)
        assert [record.model for record in records] == [MODEL]


async def test_disconnect_before_first_byte(open_host: Any) -> None:
    async with open_host(first_byte_timeout=30) as host:
        account = await _world(host)
        await add_channel(host, name="A", type="scripted", models=[MODEL])
        SCRIPTS.add("A", STALL)
        SCRIPTS.add("A", STALL)
        start = await balance_micro(host, account.user_id)

        async with serve(host) as base_url:
            for stream in (True, False):
                async with httpx.AsyncClient(base_url=base_url, timeout=0.5) as client:
                    try:
                        await client.post(
                            "/v1/chat/completions", json={**BODY, "stream": stream}, headers=_auth(account.key)
                        )
                    except httpx.ReadTimeout:
                        pass
                records = await wait_for_records(host, account.user_id, 1 if stream else 2)

        assert [call.closed for call in SCRIPTS.calls] == [True, True]
        assert [record.status for record in records] == ["client_closed", "client_closed"]
        assert [record.points for record in records] == [0, 0]
        assert await balance_micro(host, account.user_id) == start
