"""Bad request bodies get a 400 or 413 JSON error before any upstream call or hold."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from relay_scripted import SCRIPTS
from relay_world import add_channel, balance_micro, make_account, set_token_price, usage_records

MODEL = "m"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model":"m","messages":[{"role":"user","content":"hi"}],',
        b'{"model":"m"}',
        b'{"model":"m","messages":"hi"}',
        b'{"messages":[{"role":"user","content":"hi"}]}',
        b'{"model":"m","stream":"yes","messages":[{"role":"user","content":"hi"}]}',
        b"",
    ],
)
async def test_bad_body_is_400(open_host: Any, raw: bytes) -> None:
    async with open_host() as host:
        await set_token_price(host, [MODEL], input="1", output="1")
        account = await make_account(host, points="10")
        await add_channel(host, name="A", type="scripted", models=[MODEL])
        start = await balance_micro(host, account.user_id)

        response = await host.client.post(
            "/v1/chat/completions", content=raw,
            headers={"Authorization": f"Bearer {account.key}", "Content-Type": "application/json"},
        )

        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert SCRIPTS.calls == []
        assert await balance_micro(host, account.user_id) == start
        assert await usage_records(host, account.user_id) == []


def _png_data_url(size: int) -> str:
    raw = b"\x89PNG\r\n\x1a\n" + os.urandom(size)
    return "data:image/png;base64," + base64.b64encode(raw).decode()


async def test_large_vision_body_is_forwarded(open_host: Any) -> None:
    async with open_host() as host:
        await set_token_price(host, [MODEL], input="1", output="1")
        account = await make_account(host, points="10")
        await add_channel(host, name="A", type="scripted", models=[MODEL])
        content = [{"type": "text", "text": "What is this?"},
                   {"type": "image_url", "image_url": {"url": _png_data_url(6 * 1024 * 1024)}}]
        body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}

        response = await host.client.post(
            "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {account.key}"}
        )

        assert response.status_code == 200, response.text[:300]
        assert len(SCRIPTS.calls) == 1


async def test_oversized_body_is_413(open_host: Any) -> None:
    async with open_host() as host:
        account = await make_account(host, points="10")
        await add_channel(host, name="A", type="scripted", models=[MODEL])
        raw = b'{"model":"m","messages":[{"role":"user","content":"' + b"a" * (40 * 1024 * 1024) + b'"}]}'

        response = await host.client.post(
            "/v1/chat/completions", content=raw,
            headers={"Authorization": f"Bearer {account.key}", "Content-Type": "application/json"},
        )

        assert response.status_code == 413
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "payload_too_large"
        assert SCRIPTS.calls == []
