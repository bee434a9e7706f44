"""Message actions (regenerate, edit, continue), presets in a chat, and anonymous chat."""

from __future__ import annotations

from decimal import Decimal

import httpx
from chat_world import add_channel, free_model, make_user, read_events, serve, set_price
from sqlalchemy import func, select

from chatnio_host.billing.prices import PriceRule
from chatnio_host.db.models.chat import ChatMessage, Conversation
from chatnio_host.testing_vendors.openai import FakeOpenAI


async def send(client: httpx.AsyncClient, headers: dict, conversation: str | int, text: str, **extra) -> list:
    async with client.stream("POST", f"/api/conversations/{conversation}/messages", headers=headers,
                             json={"text": text, "model": "gpt-4o-mini", **extra}) as response:
        assert response.status_code == 200, await response.aread()
        return await read_events(response)


async def test_regenerate_keeps_old_answer(open_host) -> None:
    async with FakeOpenAI() as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await free_model(host, "gpt-4o-mini")
        user = await make_user(host)
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            events = await send(client, user.headers, "new", "first answer please")
            conversation = next(e.data["id"] for e in events if e.type == "conversation")
            old_answer = next(e.data["id"] for e in events if e.type == "message")
            vendor.reply_text = "second answer"

            async with client.stream("POST", f"/api/messages/{old_answer}/regenerate", headers=user.headers) as response:
                regenerated = await read_events(response)
            new_answer = next(e.data["id"] for e in regenerated if e.type == "message")
            page = (await client.get(f"/api/conversations/{conversation}", headers=user.headers)).json()
            alternatives = (await client.get(f"/api/messages/{new_answer}/alternatives", headers=user.headers)).json()

        assert [m["text"] for m in page["messages"]] == ["first answer please", "second answer"]
        assert [m["text"] for m in alternatives] == ["first answer please"]
        assert alternatives[0]["active"] is False
        regenerate_request = vendor.requests[-1].json()
        assert [m["role"] for m in regenerate_request["messages"]] == ["user"]


async def test_edit_then_regenerate_and_continue(open_host) -> None:
    async with FakeOpenAI() as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await free_model(host, "gpt-4o-mini")
        user = await make_user(host)
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            events = await send(client, user.headers, "new", "original question")
            conversation = next(e.data["id"] for e in events if e.type == "conversation")
            question = next(e.data["id"] for e in events if e.type == "user_message")

            async with client.stream("PATCH", f"/api/messages/{question}", headers=user.headers,
                                     json={"text": "edited question", "regenerate": True}) as response:
                edited = await read_events(response)
            answer = next(e.data["id"] for e in edited if e.type == "message")
            assert vendor.requests[-1].json()["messages"][-1]["content"] == "edited question"

            vendor.reply_text = "and the rest"
            async with client.stream("POST", f"/api/messages/{answer}/continue", headers=user.headers) as response:
                continued = await read_events(response)
            page = (await client.get(f"/api/conversations/{conversation}", headers=user.headers)).json()

        assert continued[-1].data["status"] == "complete"
        texts = [m["text"] for m in page["messages"]]
        assert texts == ["edited question", "edited question", "and the rest"]
        continue_request = vendor.requests[-1].json()["messages"]
        assert continue_request[-2]["role"] == "assistant"
        assert "Continue" in continue_request[-1]["content"]


async def test_preset_starts_conversation_with_context(open_host) -> None:
    async with FakeOpenAI(reply_text="Arr") as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await free_model(host, "gpt-4o-mini")
        user = await make_user(host)
        preset = (await host.client.post("/api/presets", headers=user.headers, json={
            "name": "Pirate", "context": [{"role": "system", "content": "Answer like a pirate."}],
        })).json()
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            events = await send(client, user.headers, "new", "hello", preset_id=preset["id"])

        assert events[-1].data["status"] == "complete"
        upstream = vendor.requests[-1].json()["messages"]
        assert upstream[0] == {"role": "system", "content": "Answer like a pirate."}
        assert upstream[-1]["content"] == "hello"


async def test_usage_event_reports_points(open_host) -> None:
    async with FakeOpenAI(reply_text="one two three") as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await set_price(host, PriceRule(type="times", models=["gpt-4o-mini"], output=Decimal("0.1")))
        user = await make_user(host, points=1)
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            events = await send(client, user.headers, "new", "hi")
            balance = (await client.get("/api/billing/balance", headers=user.headers)).json()

        usage = next(e for e in events if e.type == "usage")
        assert usage.data["points"] == 0.1
        assert usage.data["subscription"] is False
        assert events[-1].data["message"]["points"] == 0.1
        assert balance["available"] == 0.9
        assert balance["held"] == 0


async def test_anonymous_chat_only_on_anonymous_free_models(open_host) -> None:
    async with FakeOpenAI(reply_text="hi stranger") as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["open-model", "gpt-4o-mini"])
        await set_price(host, PriceRule(type="none", models=["open-model"], anonymous=True))
        await free_model(host, "gpt-4o-mini")
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            async with client.stream("POST", "/api/chat/anonymous",
                                     json={"messages": [{"role": "user", "content": "hello"}], "model": "open-model"}) as response:
                assert response.status_code == 200
                events = await read_events(response)
            refused = await client.post("/api/chat/anonymous",
                                        json={"messages": [{"role": "user", "content": "hello"}], "model": "gpt-4o-mini"})

        assert "".join(e.data["text"] for e in events if e.type == "delta") == "hi stranger"
        assert events[-1].data["status"] == "complete"
        assert events[-1].data["text"] == "hi stranger"
        assert refused.status_code == 403
        async with host.ctx.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Conversation)) == 0
            assert await session.scalar(select(func.count()).select_from(ChatMessage)) == 0
