"""Sending, streaming, resuming after a dropped connection, and stopping."""

from __future__ import annotations

import asyncio

import httpx
from chat_world import add_channel, free_model, make_user, read_events, serve, token_price
from sqlalchemy import select

from chatnio_host.billing.money import MICRO
from chatnio_host.db.models.billing import UsageRecord
from chatnio_host.db.models.chat import ChatMessage
from chatnio_host.relay.estimate import count_tokens
from chatnio_host.testing_vendors.openai import FakeOpenAI

WORDS = [f"w{i}" for i in range(200)]


async def test_resume_after_drop_exactly_once(open_host) -> None:
    async with FakeOpenAI(reply_text=" ".join(WORDS), chunk_delay=0.01) as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await free_model(host, "gpt-4o-mini")
        user = await make_user(host)
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            async with client.stream(
                "POST", "/api/conversations/new/messages", headers=user.headers,
                json={"text": "count for me", "model": "gpt-4o-mini"},
            ) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                first = await read_events(response, delta_limit=50)
            message_id = next(event.data["id"] for event in first if event.type == "message")
            conversation_id = next(event.data["id"] for event in first if event.type == "conversation")
            first_deltas = [event.data["text"] for event in first if event.type == "delta"]
            assert len(first_deltas) == 50

            async with client.stream(
                "GET", f"/api/messages/{message_id}/events",
                headers={**user.headers, "Last-Event-ID": first[-1].id},
            ) as resumed:
                rest = await read_events(resumed)

            rest_deltas = [event.data["text"] for event in rest if event.type == "delta"]
            ids = [event.id for event in first + rest]
            assert len(ids) == len(set(ids))
            assert rest[-1].type == "done"
            assert rest[-1].data["status"] == "complete"

            full = "".join(first_deltas + rest_deltas)
            assert full.split() == WORDS
            assert len(first_deltas) + len(rest_deltas) == len(WORDS) + full.count("  ")

            page = (await client.get(f"/api/conversations/{conversation_id}", headers=user.headers)).json()
            assert [message["role"] for message in page["messages"]] == ["user", "assistant"]
            assert page["messages"][1]["text"] == full
            assert page["title"] == "count for me"


async def test_answer_saved_without_listener(open_host) -> None:
    async with FakeOpenAI(reply_text="saved even when nobody listens", chunk_delay=0.05) as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await free_model(host, "gpt-4o-mini")
        user = await make_user(host)
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            async with client.stream("POST", "/api/conversations/new/messages", headers=user.headers,
                                     json={"text": "hello", "model": "gpt-4o-mini"}) as response:
                events = await read_events(response, stop_after=3)
            message_id = next(event.data["id"] for event in events if event.type == "message")

            await host.ctx.services["chat"].wait(message_id)

        async with host.ctx.db.session() as session:
            row = await session.get(ChatMessage, message_id)
        assert row.status == "complete"
        assert row.content == [{"type": "text", "text": "saved even when nobody listens"}]


async def test_stop_saves_partial_and_charges_it(open_host) -> None:
    reply = " ".join(f"token{i}" for i in range(60))
    async with FakeOpenAI(reply_text=reply, chunk_delay=0.3, usage=False) as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await token_price(host, "gpt-4o-mini", input="1", output="2")
        user = await make_user(host, points=100)
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            async with client.stream("POST", "/api/conversations/new/messages", headers=user.headers,
                                     json={"text": "go", "model": "gpt-4o-mini"}) as response:
                events = await read_events(response, delta_limit=10)
                message_id = next(event.data["id"] for event in events if event.type == "message")
                stopped = await client.post(f"/api/messages/{message_id}/stop", headers=user.headers)
            assert stopped.status_code == 200
            saved = stopped.json()

            async with client.stream("GET", f"/api/messages/{message_id}/events", headers=user.headers) as replay:
                everything = await read_events(replay)

        received = "".join(event.data["text"] for event in events if event.type == "delta")
        buffered = "".join(event.data["text"] for event in everything if event.type == "delta")
        assert saved["status"] == "stopped"
        assert saved["text"] == buffered
        assert saved["text"].startswith(received)
        assert len(saved["text"].split()) < 60
        assert everything[-1].type == "done"
        assert [event.type for event in everything].count("done") == 1

        async with host.ctx.db.session() as session:
            record = await session.scalar(select(UsageRecord).where(UsageRecord.request_id == f"chat-{message_id}"))
        assert record is not None
        assert record.output_tokens == count_tokens(saved["text"])
        expected = -(-(record.input_tokens * 1 * MICRO + record.output_tokens * 2 * MICRO) // 1000)
        assert record.points == expected
        assert saved["points"] == record.points / MICRO


async def test_upstream_error_saved_as_error(open_host) -> None:
    async with FakeOpenAI() as vendor, open_host() as host:
        from chatnio_host.testing_vendors.server import Reply

        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await free_model(host, "gpt-4o-mini")
        user = await make_user(host)
        vendor.enqueue(Reply.error(400, "max_tokens is too large", code="invalid_value", param="max_tokens"))
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            async with client.stream("POST", "/api/conversations/new/messages", headers=user.headers,
                                     json={"text": "hi", "model": "gpt-4o-mini"}) as response:
                events = await read_events(response)
            conversation_id = next(event.data["id"] for event in events if event.type == "conversation")
            page = (await client.get(f"/api/conversations/{conversation_id}", headers=user.headers)).json()

        types = [event.type for event in events]
        assert "error" in types and types[-1] == "done"
        error = next(event for event in events if event.type == "error")
        assert "max_tokens" in error.data["message"]
        answer = page["messages"][1]
        assert answer["status"] == "error"
        assert answer["error_code"] == error.data["code"]
        assert answer["error_code"] is not None
        assert answer["text"] == ""
        assert "max_tokens" in answer["error"]


async def test_empty_message_rejected(open_host) -> None:
    async with open_host() as host:
        user = await make_user(host)
        response = await host.client.post("/api/conversations/new/messages", headers=user.headers,
                                          json={"text": "  ", "model": "gpt-4o-mini"})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "text"


async def test_title_from_first_fifty_characters(open_host) -> None:
    text = "x" * 60
    async with FakeOpenAI(reply_text="ok") as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await free_model(host, "gpt-4o-mini")
        user = await make_user(host)
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            async with client.stream("POST", "/api/conversations/new/messages", headers=user.headers,
                                     json={"text": text, "model": "gpt-4o-mini"}) as response:
                events = await read_events(response)
        conversation = next(event for event in events if event.type == "conversation")
        assert conversation.data["title"] == "x" * 50 + "..."


async def test_context_length_limits_history(open_host) -> None:
    async with FakeOpenAI(reply_text="ok") as vendor, open_host() as host:
        await add_channel(host, vendor.url, ["gpt-4o-mini"])
        await free_model(host, "gpt-4o-mini")
        user = await make_user(host)
        async with serve(host) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            conversation = "new"
            for text in ("one", "two", "three"):
                async with client.stream(
                    "POST", f"/api/conversations/{conversation}/messages", headers=user.headers,
                    json={"text": text, "model": "gpt-4o-mini", "preferences": {"context_length": 3}},
                ) as response:
                    events = await read_events(response)
                if conversation == "new":
                    conversation = str(next(event.data["id"] for event in events if event.type == "conversation"))
                await asyncio.sleep(0)

        last = vendor.requests[-1].json()
        assert [message["content"] for message in last["messages"]] == ["ok", "ok", "three"][-3:] or [
            message["role"] for message in last["messages"]
        ] == ["user", "assistant", "user"]
        assert len(last["messages"]) == 3
        assert last["messages"][-1]["content"] == "three"
