"""Conversations page from the end by cursor, are private, and can be renamed, forked, deleted."""

from __future__ import annotations

from chat_world import make_user
from sqlalchemy import event

from chatnio_host.db.models.chat import ChatMessage, Conversation
from chatnio_host.testing import TestHost


async def big_conversation(host: TestHost, user_id: int, count: int) -> int:
    async with host.ctx.db.transaction() as session:
        conversation = Conversation(user_id=user_id, title="long", model="gpt-4o-mini", message_count=count)
        session.add(conversation)
        await session.flush()
        session.add_all(
            ChatMessage(conversation_id=conversation.id, role="user" if i % 2 == 0 else "assistant",
                        content=[{"type": "text", "text": f"m{i}"}])
            for i in range(count)
        )
        return conversation.id


async def test_last_page_in_one_query_then_cursor(host: TestHost) -> None:
    user = await make_user(host)
    conversation = await big_conversation(host, user.id, 500)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if "chat_messages" in statement:
            statements.append(statement)

    event.listen(host.db.engine.sync_engine, "before_cursor_execute", record)
    try:
        first = await host.client.get(f"/api/conversations/{conversation}/messages?limit=50", headers=user.headers)
    finally:
        event.remove(host.db.engine.sync_engine, "before_cursor_execute", record)

    assert first.status_code == 200
    assert len(statements) == 1
    page = first.json()
    assert [m["text"] for m in page["messages"]] == [f"m{i}" for i in range(450, 500)]
    assert page["before"] == page["messages"][0]["id"]

    second = (await host.client.get(
        f"/api/conversations/{conversation}/messages?limit=50&before={page['before']}", headers=user.headers
    )).json()
    assert [m["text"] for m in second["messages"]] == [f"m{i}" for i in range(400, 450)]

    cursor = second["before"]
    seen = 100
    while cursor is not None:
        older = (await host.client.get(
            f"/api/conversations/{conversation}/messages?limit=200&before={cursor}", headers=user.headers
        )).json()
        seen += len(older["messages"])
        cursor = older["before"]
    assert seen == 500


async def test_conversations_private_and_searchable(host: TestHost) -> None:
    alice = await make_user(host)
    bob = await make_user(host)
    mine = await big_conversation(host, alice.id, 2)
    await host.client.patch(f"/api/conversations/{mine}", headers=alice.headers, json={"title": "Pancake recipes"})
    await big_conversation(host, alice.id, 2)

    listed = (await host.client.get("/api/conversations?q=pancake", headers=alice.headers)).json()
    assert [item["id"] for item in listed["data"]] == [mine]
    assert listed["total"] == 1
    assert (await host.client.get(f"/api/conversations/{mine}", headers=bob.headers)).status_code == 404
    assert (await host.client.get(f"/api/conversations/{mine}/messages", headers=bob.headers)).status_code == 404
    assert (await host.client.patch(f"/api/conversations/{mine}", headers=bob.headers, json={"title": "x"})).status_code == 404
    assert (await host.client.delete(f"/api/conversations/{mine}", headers=bob.headers)).status_code == 404
    assert (await host.client.get("/api/conversations", headers=bob.headers)).json()["total"] == 0


async def test_fork_copies_up_to_message(host: TestHost) -> None:
    user = await make_user(host)
    conversation = await big_conversation(host, user.id, 6)
    messages = (await host.client.get(f"/api/conversations/{conversation}", headers=user.headers)).json()["messages"]

    fork = await host.client.post(f"/api/conversations/{conversation}/fork", headers=user.headers,
                                  json={"message_id": messages[2]["id"]})

    assert fork.status_code == 200
    copied = (await host.client.get(f"/api/conversations/{fork.json()['id']}", headers=user.headers)).json()
    assert [m["text"] for m in copied["messages"]] == ["m0", "m1", "m2"]


async def test_delete_one_and_all(host: TestHost) -> None:
    user = await make_user(host)
    first = await big_conversation(host, user.id, 2)
    await big_conversation(host, user.id, 2)

    assert (await host.client.delete(f"/api/conversations/{first}", headers=user.headers)).status_code == 204
    assert (await host.client.get("/api/conversations", headers=user.headers)).json()["total"] == 1
    deleted = await host.client.delete("/api/conversations", headers=user.headers)
    assert deleted.json() == {"deleted": 1}
    assert (await host.client.get("/api/conversations", headers=user.headers)).json()["total"] == 0


async def test_delete_message_and_rename(host: TestHost) -> None:
    user = await make_user(host)
    conversation = await big_conversation(host, user.id, 3)
    messages = (await host.client.get(f"/api/conversations/{conversation}", headers=user.headers)).json()["messages"]

    assert (await host.client.delete(f"/api/messages/{messages[1]['id']}", headers=user.headers)).status_code == 204
    renamed = await host.client.patch(f"/api/conversations/{conversation}", headers=user.headers, json={"title": "Renamed"})

    after = (await host.client.get(f"/api/conversations/{conversation}", headers=user.headers)).json()
    assert [m["text"] for m in after["messages"]] == ["m0", "m2"]
    assert after["message_count"] == 2
    assert renamed.json()["title"] == "Renamed"


async def test_form_bodies_rejected(host: TestHost) -> None:
    user = await make_user(host)
    conversation = await big_conversation(host, user.id, 1)

    response = await host.client.patch(
        f"/api/conversations/{conversation}", headers={**user.headers, "Content-Type": "text/plain"},
        content='{"title": "pwned"}',
    )

    assert response.status_code == 415
