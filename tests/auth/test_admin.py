"""The admin users API, the admin settings of auth and mail, and the role check on every admin route."""

from __future__ import annotations

import logging
import re

import pytest

from chatnio_host.testing import TestHost
from chatnio_host.web.routes import iter_api_routes
from tests.auth.conftest import bearer, login, register, root_token, update_auth_settings


def _admin_routes(host: TestHost) -> list[tuple[str, str]]:
    routes = []
    for path, route in iter_api_routes(list(host.app.routes)):
        if path == "/api/admin" or path.startswith("/api/admin/"):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    routes.append((method, re.sub(r"\{[^}/]+\}", "1", path)))
    return routes


async def test_every_admin_route_forbidden_for_non_admin(app_host: TestHost) -> None:
    routes = _admin_routes(app_host)
    assert ("GET", "/api/admin/users") in routes
    assert ("POST", "/api/admin/users/1/ban") in routes
    token = (await register(app_host.client, "mallory"))["token"]
    for method, path in routes:
        response = await app_host.client.request(method, path, json={}, headers=bearer(token))
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["type"] == "permission_error", (method, path)


async def test_every_admin_route_needs_sign_in(app_host: TestHost) -> None:
    for method, path in _admin_routes(app_host):
        response = await app_host.client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.text)


async def test_list_users_paged_and_searched(app_host: TestHost) -> None:
    admin = await root_token(app_host)
    await update_auth_settings(app_host, admin, rate_limits={"register_per_ip": "50/minute"})
    for index in range(12):
        await register(app_host.client, f"member{index:02d}", email=f"m{index:02d}@example.com")
    await register(app_host.client, "zed", email="zed@sample.org")

    first = (await app_host.client.get("/api/admin/users", params={"page_size": 5}, headers=bearer(admin))).json()
    assert first["total"] == 14
    assert [item["username"] for item in first["items"]] == ["root", "member00", "member01", "member02", "member03"]
    third = (
        await app_host.client.get("/api/admin/users", params={"page": 3, "page_size": 5}, headers=bearer(admin))
    ).json()
    assert [item["username"] for item in third["items"]] == ["member09", "member10", "member11", "zed"]

    by_name = (await app_host.client.get("/api/admin/users", params={"search": "MEMBER1"}, headers=bearer(admin))).json()
    assert [item["username"] for item in by_name["items"]] == ["member10", "member11"]
    by_email = (await app_host.client.get("/api/admin/users", params={"search": "sample.org"}, headers=bearer(admin))).json()
    assert [item["username"] for item in by_email["items"]] == ["zed"]

    zed_id = by_email["items"][0]["id"]
    one = await app_host.client.get(f"/api/admin/users/{zed_id}", headers=bearer(admin))
    assert one.json()["email"] == "zed@sample.org"
    assert (await app_host.client.get("/api/admin/users/999999", headers=bearer(admin))).status_code == 404


async def test_admin_actions_apply_and_log(app_host: TestHost, caplog: pytest.LogCaptureFixture) -> None:
    admin = await root_token(app_host)
    admin_id = (await app_host.client.get("/api/auth/me", headers=bearer(admin))).json()["id"]
    registered = await register(app_host.client, "bob", "secret123", email="bob@example.com")
    await register(app_host.client, "carol", "secret123", email="carol@example.com")
    bob_id = registered["user"]["id"]
    old_token = registered["token"]
    client = app_host.client

    with caplog.at_level(logging.INFO, logger="chatnio_host.auth.admin_router"):
        password = await client.post(f"/api/admin/users/{bob_id}/password", json={"password": "reset-by-admin"}, headers=bearer(admin))
        assert password.status_code == 200
        assert (await client.get("/api/auth/me", headers=bearer(old_token))).status_code == 401
        bob = await login(client, "bob", "reset-by-admin")

        email = await client.post(f"/api/admin/users/{bob_id}/email", json={"email": "Bob@New.example"}, headers=bearer(admin))
        assert email.json()["email"] == "bob@new.example"
        taken = await client.post(f"/api/admin/users/{bob_id}/email", json={"email": "carol@example.com"}, headers=bearer(admin))
        assert taken.status_code == 409

        level = await client.post(f"/api/admin/users/{bob_id}/level", json={"level": 2}, headers=bearer(admin))
        assert level.json()["level"] == 2
        bad_level = await client.post(f"/api/admin/users/{bob_id}/level", json={"level": 7}, headers=bearer(admin))
        assert bad_level.status_code == 400

        granted = await client.post(f"/api/admin/users/{bob_id}/grant-admin", headers=bearer(admin))
        assert granted.json()["is_admin"] is True
        assert (await client.get("/api/admin/users", headers=bearer(bob))).status_code == 200
        revoked = await client.post(f"/api/admin/users/{bob_id}/revoke-admin", headers=bearer(admin))
        assert revoked.json()["is_admin"] is False
        assert (await client.get("/api/admin/users", headers=bearer(bob))).status_code == 403

    messages = [record.getMessage() for record in caplog.records]
    for action in ("set-password", "set-email", "set-level-2", "grant-admin", "revoke-admin"):
        assert f"admin {admin_id}: {action} on user {bob_id}" in messages, action


async def test_root_and_self_protected(app_host: TestHost) -> None:
    admin = await root_token(app_host)
    root_id = (await app_host.client.get("/api/auth/me", headers=bearer(admin))).json()["id"]
    for action in ("ban", "revoke-admin"):
        response = await app_host.client.post(f"/api/admin/users/{root_id}/{action}", headers=bearer(admin))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "protected_user"
    assert (await app_host.client.get("/api/auth/me", headers=bearer(admin))).json()["is_admin"] is True


async def test_mail_password_write_only(app_host: TestHost) -> None:
    admin = await root_token(app_host)
    settings = {
        "host": "127.0.0.1", "port": 2525, "security": "starttls", "username": "mailer",
        "password": "smtp-Secret-9", "sender": "noreply@chat.example.test",
    }
    saved = await app_host.client.put("/api/admin/settings/mail", json=settings, headers=bearer(admin))
    assert saved.status_code == 200
    assert "smtp-Secret-9" not in saved.text
    assert saved.json()["password_set"] is True

    without_password = {key: value for key, value in settings.items() if key != "password"}
    kept = await app_host.client.put(
        "/api/admin/settings/mail", json={**without_password, "port": 587}, headers=bearer(admin)
    )
    assert kept.json()["password_set"] is True
    read = await app_host.client.get("/api/admin/settings/mail", headers=bearer(admin))
    assert "smtp-Secret-9" not in read.text
    assert read.json()["port"] == 587
    stored = await app_host.ctx.services["auth"].mail_settings()
    assert stored.password == "smtp-Secret-9"

    cleared = await app_host.client.put(
        "/api/admin/settings/mail", json={**without_password, "password": ""}, headers=bearer(admin)
    )
    assert cleared.json()["password_set"] is False


async def test_auth_settings_validated(app_host: TestHost) -> None:
    admin = await root_token(app_host)
    current = (await app_host.client.get("/api/admin/settings/auth", headers=bearer(admin))).json()
    current["rate_limits"]["login_per_ip"] = "lots"
    response = await app_host.client.put("/api/admin/settings/auth", json=current, headers=bearer(admin))
    assert response.status_code == 400
    assert "login_per_ip" in response.json()["error"]["message"]


async def test_new_user_gets_initial_points(app_host: TestHost) -> None:
    admin = await root_token(app_host)
    billing = (await app_host.client.get("/api/admin/billing/settings", headers=bearer(admin))).json()
    billing["initial_points"] = "5"
    saved = await app_host.client.put("/api/admin/billing/settings", json=billing, headers=bearer(admin))
    assert saved.status_code == 200, saved.text
    user_id = (await register(app_host.client, "dora"))["user"]["id"]
    balance = await app_host.client.get(f"/api/admin/users/{user_id}/billing", headers=bearer(admin))
    assert balance.status_code == 200, balance.text
    assert float(balance.json()["balance"]) == 5
