"""Registration, sign-in, sessions, password change and the root admin."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from chatnio_host.clock import FixedClock
from chatnio_host.testing import TestHost
from tests.auth.conftest import (
    ROOT_DEFAULT,
    HostFactory,
    bearer,
    login,
    register,
    root_token,
    update_auth_settings,
)


async def test_register_login_me(app_host: TestHost) -> None:
    client = app_host.client
    registered = await register(client, "alice", "secret123", email="Alice@Example.com")
    assert registered["user"]["username"] == "alice"
    assert registered["user"]["email"] == "alice@example.com"
    assert registered["user"]["role"] == "user"

    token = await login(client, "alice", "secret123")
    me = await client.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200
    body = me.json()
    assert body["username"] == "alice"
    assert body["is_admin"] is False
    assert body["group"] == "normal"
    assert body["must_change_password"] is False
    assert "password_hash" not in body

    registered_token_me = await client.get("/api/auth/me", headers=bearer(registered["token"]))
    assert registered_token_me.status_code == 200


async def test_login_by_email(app_host: TestHost) -> None:
    await register(app_host.client, "bob", "secret123", email="bob@example.com")
    token = await login(app_host.client, "BOB@example.com", "secret123")
    me = await app_host.client.get("/api/auth/me", headers=bearer(token))
    assert me.json()["username"] == "bob"


async def test_wrong_password_and_unknown_user_identical(app_host: TestHost) -> None:
    client = app_host.client
    await register(client, "carol", "secret123")
    wrong_password = await client.post("/api/auth/login", json={"username": "carol", "password": "nope-nope"})
    unknown_user = await client.post("/api/auth/login", json={"username": "nobody", "password": "nope-nope"})
    assert wrong_password.status_code == 401
    assert unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["error"]["code"] == "invalid_credentials"


async def test_me_requires_token(app_host: TestHost) -> None:
    client = app_host.client
    assert (await client.get("/api/auth/me")).status_code == 401
    assert (await client.get("/api/auth/me", headers=bearer("not-a-jwt"))).status_code == 401
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.AAAA"
    assert (await client.get("/api/auth/me", headers=bearer(forged))).status_code == 401


async def test_register_rejects_invalid_fields(app_host: TestHost) -> None:
    client = app_host.client
    short_name = await client.post("/api/auth/register", json={"username": "a", "password": "secret123"})
    assert short_name.status_code == 400
    assert short_name.json()["error"]["param"] == "username"
    short_password = await client.post("/api/auth/register", json={"username": "dave", "password": "123"})
    assert short_password.status_code == 400
    assert short_password.json()["error"]["param"] == "password"
    bad_email = await client.post(
        "/api/auth/register", json={"username": "dave", "password": "secret123", "email": "dave-at-example"}
    )
    assert bad_email.status_code == 400
    assert bad_email.json()["error"]["param"] == "email"


async def test_register_duplicate_username_conflict(app_host: TestHost) -> None:
    client = app_host.client
    await register(client, "erin", email="erin@example.com")
    same_name = await client.post("/api/auth/register", json={"username": "erin", "password": "secret123"})
    assert same_name.status_code == 409
    assert same_name.json()["error"]["param"] == "username"
    same_email = await client.post(
        "/api/auth/register", json={"username": "erin2", "password": "secret123", "email": "ERIN@example.com"}
    )
    assert same_email.status_code == 409
    assert same_email.json()["error"]["param"] == "email"


async def test_registration_closed_forbidden(app_host: TestHost) -> None:
    admin = await root_token(app_host)
    await update_auth_settings(app_host, admin, registration_closed=True)
    response = await app_host.client.post("/api/auth/register", json={"username": "frank", "password": "secret123"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "registration_closed"
    assert "closed" in response.json()["error"]["message"]
    options = await app_host.client.get("/api/auth/options")
    assert options.json()["registration_open"] is False
    listing = await app_host.client.get("/api/admin/users", params={"search": "frank"}, headers=bearer(admin))
    assert listing.json()["total"] == 0


async def test_password_change_revokes_old_token(app_host: TestHost) -> None:
    client = app_host.client
    old_token = (await register(client, "grace", "secret123"))["token"]
    wrong_old = await client.post(
        "/api/auth/password",
        json={"old_password": "wrong-one", "new_password": "newsecret1"},
        headers=bearer(old_token),
    )
    assert wrong_old.status_code == 400
    assert wrong_old.json()["error"]["param"] == "old_password"

    changed = await client.post(
        "/api/auth/password",
        json={"old_password": "secret123", "new_password": "newsecret1"},
        headers=bearer(old_token),
    )
    assert changed.status_code == 200
    assert (await client.get("/api/auth/me", headers=bearer(old_token))).status_code == 401
    assert (await client.get("/api/auth/me", headers=bearer(changed.json()["token"]))).status_code == 200
    await login(client, "grace", "newsecret1")
    stale = await client.post("/api/auth/login", json={"username": "grace", "password": "secret123"})
    assert stale.status_code == 401


async def test_logout_ends_only_that_session(app_host: TestHost) -> None:
    client = app_host.client
    await register(client, "heidi", "secret123")
    first = await login(client, "heidi", "secret123")
    second = await login(client, "heidi", "secret123")
    assert (await client.post("/api/auth/logout", headers=bearer(first))).status_code == 204
    assert (await client.get("/api/auth/me", headers=bearer(first))).status_code == 401
    assert (await client.get("/api/auth/me", headers=bearer(second))).status_code == 200


async def test_logout_all_ends_every_session(app_host: TestHost) -> None:
    client = app_host.client
    await register(client, "ivan", "secret123")
    first = await login(client, "ivan", "secret123")
    second = await login(client, "ivan", "secret123")
    assert (await client.post("/api/auth/logout-all", headers=bearer(first))).status_code == 204
    assert (await client.get("/api/auth/me", headers=bearer(first))).status_code == 401
    assert (await client.get("/api/auth/me", headers=bearer(second))).status_code == 401
    await login(client, "ivan", "secret123")


async def test_state_changing_routes_reject_get(app_host: TestHost) -> None:
    client = app_host.client
    for path in ("/api/auth/logout", "/api/auth/logout-all", "/api/auth/password", "/api/auth/reset",
                 "/api/auth/register", "/api/auth/email-code", "/api/keys/1/roll", "/api/admin/users/1/ban"):
        response = await client.get(path)
        assert response.status_code == 405, path


async def test_non_json_bodies_rejected(app_host: TestHost) -> None:
    client = app_host.client
    await register(client, "judy", "secret123")
    token = await login(client, "judy", "secret123")
    form = await client.post(
        "/api/auth/login",
        content="username=judy&password=secret123",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415
    text_json = await client.post(
        "/api/keys",
        content='{"name":"pwned","x":"="}',
        headers={"Content-Type": "text/plain", **bearer(token)},
    )
    assert text_json.status_code == 415
    keys = await client.get("/api/keys", headers=bearer(token))
    assert keys.json() == []


async def test_root_default_password_must_change(app_host: TestHost, caplog: pytest.LogCaptureFixture) -> None:
    token = await login(app_host.client, "root", ROOT_DEFAULT)
    me = (await app_host.client.get("/api/auth/me", headers=bearer(token))).json()
    assert me["is_admin"] is True
    assert me["must_change_password"] is True

    changed = await app_host.client.post(
        "/api/auth/password",
        json={"old_password": ROOT_DEFAULT, "new_password": "a-better-root-pw"},
        headers=bearer(token),
    )
    assert changed.status_code == 200
    me = (await app_host.client.get("/api/auth/me", headers=bearer(changed.json()["token"]))).json()
    assert me["must_change_password"] is False


async def test_default_password_warned_each_start(hosts: HostFactory, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="chatnio_host.auth.bootstrap"):
        await hosts.start()
        await hosts.start()
    warnings = [record for record in caplog.records if "default password" in record.getMessage()]
    assert len(warnings) == 2


async def test_root_password_setting_replaces_default(hosts: HostFactory, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="chatnio_host.auth.bootstrap"):
        host = await hosts.start(root_password="Configured-Root-1")
    assert not [record for record in caplog.records if "default password" in record.getMessage()]
    refused = await host.client.post("/api/auth/login", json={"username": "root", "password": ROOT_DEFAULT})
    assert refused.status_code == 401
    token = await login(host.client, "root", "Configured-Root-1")
    me = (await host.client.get("/api/auth/me", headers=bearer(token))).json()
    assert me["must_change_password"] is False
    assert me["is_admin"] is True


async def test_root_password_applied_over_existing_default(hosts: HostFactory) -> None:
    first = await hosts.start()
    await login(first.client, "root", ROOT_DEFAULT)
    second = await hosts.start(root_password="Configured-Root-2")
    refused = await second.client.post("/api/auth/login", json={"username": "root", "password": ROOT_DEFAULT})
    assert refused.status_code == 401
    await login(second.client, "root", "Configured-Root-2")


async def test_token_expires_by_app_clock(hosts: HostFactory) -> None:
    clock = FixedClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    host = await hosts.start(clock=clock)
    token = (await register(host.client, "kate", "secret123"))["token"]
    assert (await host.client.get("/api/auth/me", headers=bearer(token))).status_code == 200

    clock.advance(hours=719)
    assert (await host.client.get("/api/auth/me", headers=bearer(token))).status_code == 200
    clock.advance(hours=2)
    expired = await host.client.get("/api/auth/me", headers=bearer(token))
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "invalid_token"


async def test_optional_user_resolution(app_host: TestHost) -> None:
    client = app_host.client
    registered = await register(client, "liam", "secret123")
    token = registered["token"]
    assert (await client.get("/api/_probe/optional")).json() == {"user_id": None}
    assert (await client.get("/api/_probe/optional", headers=bearer("garbage"))).json() == {"user_id": None}
    signed_in = await client.get("/api/_probe/optional", headers=bearer(token))
    assert signed_in.json() == {"user_id": registered["user"]["id"]}

    admin = await root_token(app_host)
    await client.post(f"/api/admin/users/{registered['user']['id']}/ban", headers=bearer(admin))
    banned = await client.get("/api/_probe/optional", headers=bearer(token))
    assert banned.status_code == 403
