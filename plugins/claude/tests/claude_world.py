"""A served host with the claude plugin, set up over its own admin HTTP API, for SDK tests."""

from __future__ import annotations

from typing import Any

import httpx

from chatnio_host.testing import serve_app

serve = serve_app
"""Serve the host's app on a free 127.0.0.1 port and yield its base URL."""


async def set_up_site(client: httpx.AsyncClient, channels: list[dict[str, Any]], models: list[str]) -> str:
    """Sign in as root, add ``channels`` and token prices for ``models``; return a funded user's API key."""
    login = await client.post("/api/auth/login", json={"username": "root", "password": "chatnio123456"})
    assert login.status_code == 200, login.text
    admin = {"Authorization": f"Bearer {login.json()['token']}"}
    for channel in channels:
        created = await client.post("/api/admin/channels", headers=admin, json=channel)
        assert created.status_code == 201, created.text
    prices = await client.put("/api/admin/prices", headers=admin, json={"rules": [
        {"type": "token", "models": models, "input": "0.5", "output": "1.5"}]})
    assert prices.status_code == 200, prices.text
    register = await client.post("/api/auth/register", json={"username": "alice", "password": "alice-password-1"})
    assert register.status_code == 201, register.text
    token = register.json()["token"]
    user_id = register.json()["user"]["id"]
    grant = await client.post(f"/api/admin/users/{user_id}/points", headers=admin, json={"delta": "50"})
    assert grant.status_code == 200, grant.text
    key = await client.post("/api/keys", headers={"Authorization": f"Bearer {token}"}, json={"name": "sdk"})
    assert key.status_code == 201, key.text
    return key.json()["key"]
