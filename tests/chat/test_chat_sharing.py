"""Sharing is scoped to the owner and to the chosen messages, as a snapshot."""

from __future__ import annotations

from chat_world import make_user
from sqlalchemy import func, select

from chatnio_host.db.models.chat import ChatMessage, Conversation, Share
from chatnio_host.testing import TestHost


async def conversation_with(host: TestHost, user_id: int, texts: list[str]) -> tuple[int, list[int]]:
    """Store a conversation whose messages alternate user and assistant."""
    async with host.ctx.db.transaction() as session:
        conversation = Conversation(user_id=user_id, title=texts[0], model="gpt-4o-mini")
        session.add(conversation)
        await session.flush()
        ids = []
        for index, text in enumerate(texts):
            message = ChatMessage(conversation_id=conversation.id, role="user" if index % 2 == 0 else "assistant",
                                  content=[{"type": "text", "text": text}], model="gpt-4o-mini")
            session.add(message)
            await session.flush()
            ids.append(message.id)
        return conversation.id, ids


async def test_share_scoped_to_owner_and_messages(host: TestHost) -> None:
    alice = await make_user(host)
    bob = await make_user(host)
    conversation, ids = await conversation_with(host, alice.id, ["alpha", "beta", "gamma"])
    await conversation_with(host, bob.id, ["secret-u2"])

    whole = await host.client.post("/api/shares", headers=alice.headers,
                                   json={"conversation_id": conversation, "message_ids": ids})
    chosen = await host.client.post("/api/shares", headers=alice.headers,
                                    json={"conversation_id": conversation, "message_ids": [ids[2], ids[0]]})
    assert whole.status_code == 201
    assert chosen.status_code == 201
    whole_id, chosen_id = whole.json()["id"], chosen.json()["id"]
    assert len(whole_id) >= 32

    anonymous = await host.client.get(f"/api/shares/{whole_id}")
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert [message["text"] for message in body["messages"]] == ["alpha", "beta", "gamma"]
    assert "secret-u2" not in anonymous.text
    assert "user_id" not in anonymous.text
    assert [m["text"] for m in (await host.client.get(f"/api/shares/{chosen_id}")).json()["messages"]] == [
        "alpha", "gamma"
    ]


async def test_share_rejects_bad_input(host: TestHost) -> None:
    alice = await make_user(host)
    conversation, ids = await conversation_with(host, alice.id, ["alpha"])

    missing = await host.client.post("/api/shares", headers=alice.headers, json={"conversation_id": 7777777, "message_ids": [1]})
    foreign_ids = await host.client.post("/api/shares", headers=alice.headers,
                                         json={"conversation_id": conversation, "message_ids": [ids[0] + 5000]})
    not_numbers = await host.client.post("/api/shares", headers=alice.headers,
                                         json={"conversation_id": conversation, "message_ids": ["abc"]})

    assert missing.status_code == 404
    assert foreign_ids.status_code == 400
    assert foreign_ids.json()["error"]["param"] == "message_ids"
    assert not_numbers.status_code == 400
    async with host.ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Share)) == 0


async def test_share_delete_and_fork_by_other_user(host: TestHost) -> None:
    alice = await make_user(host)
    bob = await make_user(host)
    conversation, ids = await conversation_with(host, alice.id, ["alpha", "beta", "gamma"])
    share_id = (await host.client.post("/api/shares", headers=alice.headers,
                                       json={"conversation_id": conversation, "message_ids": ids})).json()["id"]

    assert (await host.client.delete(f"/api/shares/{share_id}", headers=bob.headers)).status_code == 404
    assert (await host.client.get(f"/api/shares/{share_id}")).status_code == 200

    fork = await host.client.post(f"/api/shares/{share_id}/fork", headers=bob.headers)
    assert fork.status_code == 201
    copy_id = fork.json()["id"]
    copy = (await host.client.get(f"/api/conversations/{copy_id}", headers=bob.headers)).json()
    first_copy_message = copy["messages"][0]["id"]
    edited = await host.client.patch(f"/api/messages/{first_copy_message}", headers=bob.headers, json={"text": "changed"})
    assert edited.status_code == 200

    original = (await host.client.get(f"/api/conversations/{conversation}", headers=alice.headers)).json()
    assert [message["text"] for message in original["messages"]] == ["alpha", "beta", "gamma"]
    assert (await host.client.get(f"/api/conversations/{conversation}", headers=bob.headers)).status_code == 404
    assert (await host.client.get(f"/api/conversations/{copy_id}", headers=alice.headers)).status_code == 404

    assert (await host.client.delete(f"/api/shares/{share_id}", headers=alice.headers)).status_code == 204
    assert (await host.client.get(f"/api/shares/{share_id}")).status_code == 404


async def test_edit_after_share_does_not_leak(host: TestHost) -> None:
    alice = await make_user(host)
    conversation, ids = await conversation_with(host, alice.id, ["alpha", "beta"])
    share_id = (await host.client.post("/api/shares", headers=alice.headers,
                                       json={"conversation_id": conversation, "message_ids": ids})).json()["id"]

    await host.client.patch(f"/api/messages/{ids[0]}", headers=alice.headers, json={"text": "private edit"})

    shared = (await host.client.get(f"/api/shares/{share_id}")).json()
    assert [message["text"] for message in shared["messages"]] == ["alpha", "beta"]


async def test_owner_lists_and_admin_deletes_shares(host: TestHost) -> None:
    alice = await make_user(host)
    admin = await make_user(host, admin=True)
    conversation, ids = await conversation_with(host, alice.id, ["alpha"])
    share_id = (await host.client.post("/api/shares", headers=alice.headers,
                                       json={"conversation_id": conversation, "message_ids": ids})).json()["id"]

    listed = (await host.client.get("/api/shares", headers=alice.headers)).json()
    assert [item["id"] for item in listed] == [share_id]
    assert (await host.client.get("/api/admin/shares", headers=alice.headers)).status_code == 403
    assert share_id in [item["id"] for item in (await host.client.get("/api/admin/shares", headers=admin.headers)).json()]
    assert (await host.client.delete(f"/api/admin/shares/{share_id}", headers=admin.headers)).status_code == 204
    assert (await host.client.get(f"/api/shares/{share_id}")).status_code == 404
