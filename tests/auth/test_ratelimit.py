"""Rate limits: sign-in, registration, resets, the IP block for bad API keys, and the real client IP."""

from __future__ import annotations

import asyncio
import ipaddress

from chatnio_host.auth.clientip import pick_client_ip
from chatnio_host.testing import TestHost
from tests.auth.conftest import HostFactory, bearer, create_key, register, root_token, update_auth_settings


def _retry_after(response) -> int:  # type: ignore[no-untyped-def]
    assert "retry-after" in response.headers, response.headers
    return int(response.headers["retry-after"])


async def test_eleventh_login_from_ip_limited(app_host: TestHost) -> None:
    for index in range(10):
        response = await app_host.client.post(
            "/api/auth/login", json={"username": f"user{index}", "password": "wrong-pass"}
        )
        assert response.status_code == 401, index
    limited = await app_host.client.post("/api/auth/login", json={"username": "user10", "password": "wrong-pass"})
    assert limited.status_code == 429
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= _retry_after(limited) <= 60


async def test_login_limited_per_username(hosts: HostFactory) -> None:
    host = await hosts.start(trusted_proxies=["127.0.0.1/32"])
    for index in range(10):
        response = await host.client.post(
            "/api/auth/login",
            json={"username": "alice", "password": "wrong-pass"},
            headers={"X-Forwarded-For": f"198.51.100.{index}"},
        )
        assert response.status_code == 401, index
    limited = await host.client.post(
        "/api/auth/login",
        json={"username": "ALICE", "password": "wrong-pass"},
        headers={"X-Forwarded-For": "198.51.100.200"},
    )
    assert limited.status_code == 429
    other = await host.client.post(
        "/api/auth/login",
        json={"username": "bob", "password": "wrong-pass"},
        headers={"X-Forwarded-For": "198.51.100.201"},
    )
    assert other.status_code == 401


async def test_sixth_registration_from_ip_limited(app_host: TestHost) -> None:
    for index in range(5):
        await register(app_host.client, f"user{index}")
    limited = await app_host.client.post("/api/auth/register", json={"username": "user5", "password": "secret123"})
    assert limited.status_code == 429
    assert _retry_after(limited) >= 1


async def test_forged_forwarded_for_ignored(app_host: TestHost) -> None:
    statuses = []
    for index in range(30):
        forged = f"198.51.100.{index}"
        response = await app_host.client.post(
            "/api/auth/reset",
            json={"email": "alice@example.com", "code": "000000", "password": "newpass1"},
            headers={"X-Forwarded-For": forged, "X-Real-IP": forged},
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429] * 20


async def test_client_ip_is_rightmost_untrusted_hop(hosts: HostFactory) -> None:
    host = await hosts.start(trusted_proxies=["127.0.0.1/32"])
    body = {"email": "alice@example.com", "code": "000000", "password": "newpass1"}
    statuses = []
    for index in range(11):
        response = await host.client.post(
            "/api/auth/reset", json=body, headers={"X-Forwarded-For": f"203.0.113.{index}, 198.51.100.7"}
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    other = await host.client.post("/api/auth/reset", json=body, headers={"X-Forwarded-For": "198.51.100.8"})
    assert other.status_code == 400


async def test_bad_keys_block_ip_even_for_valid_key(app_host: TestHost) -> None:
    token = (await register(app_host.client, "alice"))["token"]
    valid = (await create_key(app_host.client, token))["key"]
    for index in range(50):
        forged = f"198.51.100.{index}"
        response = await app_host.client.get(
            "/v1/_probe", headers={**bearer(f"sk-bad-{index:03d}"), "X-Forwarded-For": forged}
        )
        assert response.status_code == 401, index
    blocked = await app_host.client.get("/v1/_probe", headers=bearer(valid))
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "ip_blocked"
    assert 590 <= _retry_after(blocked) <= 601
    assert await app_host.ctx.services["auth"].limiter.blocked_for("127.0.0.1") is not None


async def test_ip_block_lasts_configured_time(app_host: TestHost) -> None:
    admin = await root_token(app_host)
    await update_auth_settings(
        app_host, admin, rate_limits={"bad_api_keys_per_ip": "3 per 10 minutes", "bad_api_key_block_seconds": 1}
    )
    token = (await register(app_host.client, "alice"))["token"]
    valid = (await create_key(app_host.client, token))["key"]
    for index in range(3):
        assert (await app_host.client.get("/v1/_probe", headers=bearer(f"sk-bad-{index}"))).status_code == 401
    blocked = await app_host.client.get("/v1/_probe", headers=bearer(valid))
    assert blocked.status_code == 429
    assert _retry_after(blocked) <= 2

    await asyncio.sleep(1.3)
    assert (await app_host.client.get("/v1/_probe", headers=bearer(valid))).status_code == 200


def test_pick_client_ip_rules() -> None:
    trusted = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))
    assert pick_client_ip("198.51.100.1", ["203.0.113.9"], trusted) == "198.51.100.1"
    assert pick_client_ip("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"
    assert pick_client_ip("127.0.0.1", ["203.0.113.9, 198.51.100.7"], trusted) == "198.51.100.7"
    assert pick_client_ip("127.0.0.1", ["198.51.100.7, 10.1.2.3"], trusted) == "198.51.100.7"
    assert pick_client_ip("127.0.0.1", ["203.0.113.9", "198.51.100.7"], trusted) == "198.51.100.7"
    assert pick_client_ip("127.0.0.1", ["10.0.0.5, 10.0.0.6"], trusted) == "10.0.0.5"
    assert pick_client_ip("127.0.0.1", [], trusted) == "127.0.0.1"
    assert pick_client_ip("127.0.0.1", ["198.51.100.7, not-an-ip"], trusted) == "127.0.0.1"
