"""Emailed codes through a real SMTP server: verification, whitelist, resets, and code rules."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from sqlalchemy import select, update

from chatnio_host.auth.codes import CodeStore
from chatnio_host.db.models.auth import EmailCode
from chatnio_host.testing import TestHost
from tests.auth.conftest import (
    HostFactory,
    MailSink,
    bearer,
    configure_mail,
    login,
    register,
    root_token,
    update_auth_settings,
)


def _other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def _mail_host(host: TestHost, sink: MailSink, **auth_changes: object) -> str:
    admin = await root_token(host)
    await configure_mail(host, sink, admin)
    if auth_changes:
        await update_auth_settings(host, admin, **auth_changes)
    return admin


async def _request_code(host: TestHost, address: str, purpose: str) -> int:
    response = await host.client.post("/api/auth/email-code", json={"email": address, "purpose": purpose})
    return response.status_code


async def _reset(host: TestHost, address: str, code: str, password: str) -> int:
    response = await host.client.post("/api/auth/reset", json={"email": address, "code": code, "password": password})
    return response.status_code


async def test_verification_code_registers_once(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(app_host, mail_sink, email_verification_required=True)
    client = app_host.client
    no_code = await client.post(
        "/api/auth/register", json={"username": "alice", "password": "secret123", "email": "alice@gmail.com"}
    )
    assert no_code.status_code == 400
    assert no_code.json()["error"]["param"] == "code"

    assert await _request_code(app_host, "alice@gmail.com", "register") == 200
    mails = await mail_sink.wait_for("alice@gmail.com")
    assert len(mails) == 1
    assert mails[0]["From"].addresses[0].addr_spec == "noreply@chat.example.test"
    code = mail_sink.last_code("alice@gmail.com")

    wrong = await client.post(
        "/api/auth/register",
        json={"username": "alice", "password": "secret123", "email": "alice@gmail.com", "code": _other_code(code)},
    )
    assert wrong.status_code == 400
    registered = await register(client, "alice", "secret123", email="alice@gmail.com", code=code)
    assert registered["user"]["email"] == "alice@gmail.com"

    again = await client.post(
        "/api/auth/register",
        json={"username": "alice2", "password": "secret123", "email": "alice@gmail.com", "code": code},
    )
    assert again.status_code in (400, 409)
    async with app_host.db.session() as session:
        used = await session.scalar(select(EmailCode).where(EmailCode.email == "alice@gmail.com"))
    assert used is not None and used.used_at is not None


async def test_code_registers_only_its_address(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(app_host, mail_sink, email_verification_required=True)
    assert await _request_code(app_host, "alice@gmail.com", "register") == 200
    await mail_sink.wait_for("alice@gmail.com")
    code = mail_sink.last_code("alice@gmail.com")
    other = await app_host.client.post(
        "/api/auth/register",
        json={"username": "eve", "password": "secret123", "email": "eve@gmail.com", "code": code},
    )
    assert other.status_code == 400


async def test_whitelist_refuses_other_domains(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(
        app_host, mail_sink, email_whitelist_enabled=True, email_whitelist=["gmail.com", "example.org"]
    )
    refused = await app_host.client.post("/api/auth/email-code", json={"email": "a@qq.com", "purpose": "register"})
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert "gmail.com" in message
    assert "example.org" in message
    assert refused.json()["error"]["param"] == "email"
    assert mail_sink.to("a@qq.com") == []

    lookalike = await app_host.client.post(
        "/api/auth/register", json={"username": "bob", "password": "secret123", "email": "b@notgmail.com"}
    )
    assert lookalike.status_code == 400
    await register(app_host.client, "carol", email="carol@gmail.com")


async def test_registration_code_refused_for_reset(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(app_host, mail_sink, email_verification_required=True)
    assert await _request_code(app_host, "bob@gmail.com", "register") == 200
    await mail_sink.wait_for("bob@gmail.com")
    code = mail_sink.last_code("bob@gmail.com")
    await register(app_host.client, "bob", "secret123", email="bob@gmail.com", code=code)

    assert await _reset(app_host, "bob@gmail.com", code, "newpass1") == 400
    await login(app_host.client, "bob", "secret123")


async def test_registration_code_for_existing_address_refused(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(app_host, mail_sink)
    await register(app_host.client, "alice", email="alice@example.com")
    assert await _request_code(app_host, "alice@example.com", "register") == 409
    assert mail_sink.to("alice@example.com") == []


async def test_reset_code_single_use(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(app_host, mail_sink)
    old_token = (await register(app_host.client, "alice", "secret123", email="alice@example.com"))["token"]
    assert await _request_code(app_host, "alice@example.com", "reset") == 200
    await mail_sink.wait_for("alice@example.com")
    code = mail_sink.last_code("alice@example.com")

    assert await _reset(app_host, "alice@example.com", code, "password-1") == 204
    assert await _reset(app_host, "alice@example.com", code, "password-2") == 400
    await login(app_host.client, "alice", "password-1")
    assert (await app_host.client.get("/api/auth/me", headers=bearer(old_token))).status_code == 401


async def test_newer_code_supersedes_older(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(app_host, mail_sink, rate_limits={"email_code_per_address": ["5/minute"]})
    await register(app_host.client, "alice", "secret123", email="alice@example.com")
    assert await _request_code(app_host, "alice@example.com", "reset") == 200
    await mail_sink.wait_for("alice@example.com", 1)
    first = mail_sink.last_code("alice@example.com")
    assert await _request_code(app_host, "alice@example.com", "reset") == 200
    await mail_sink.wait_for("alice@example.com", 2)
    second = mail_sink.last_code("alice@example.com")

    if first != second:
        assert await _reset(app_host, "alice@example.com", first, "password-1") == 400
    assert await _reset(app_host, "alice@example.com", second, "password-2") == 204
    await login(app_host.client, "alice", "password-2")


async def test_code_locked_after_failed_attempts(hosts: HostFactory, mail_sink: MailSink) -> None:
    host = await hosts.start(trusted_proxies=["127.0.0.1/32"])
    await _mail_host(host, mail_sink)
    await register(host.client, "alice", "secret123", email="alice@example.com")
    assert await _request_code(host, "alice@example.com", "reset") == 200
    await mail_sink.wait_for("alice@example.com")
    code = mail_sink.last_code("alice@example.com")
    wrong = _other_code(code)

    for index in range(5):
        # Each wrong entry comes from another IP: the count is per address.
        response = await host.client.post(
            "/api/auth/reset",
            json={"email": "alice@example.com", "code": wrong, "password": "password-1"},
            headers={"X-Forwarded-For": f"198.51.100.{index}"},
        )
        assert response.status_code == 400
    correct = await host.client.post(
        "/api/auth/reset",
        json={"email": "alice@example.com", "code": code, "password": "password-1"},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert correct.status_code == 400
    await login(host.client, "alice", "secret123")


async def test_expired_code_rejected(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(app_host, mail_sink, code_ttl_seconds=300)
    await register(app_host.client, "alice", "secret123", email="alice@example.com")
    assert await _request_code(app_host, "alice@example.com", "reset") == 200
    await mail_sink.wait_for("alice@example.com")
    code = mail_sink.last_code("alice@example.com")

    # The code's 5 minutes ran out one second ago.
    async with app_host.db.transaction() as session:
        await session.execute(
            update(EmailCode)
            .where(EmailCode.email == "alice@example.com")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert await _reset(app_host, "alice@example.com", code, "password-1") == 400
    await login(app_host.client, "alice", "secret123")


async def test_unknown_address_reset_sends_nothing(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(app_host, mail_sink)
    await register(app_host.client, "alice", "secret123", email="alice@example.com")

    started = time.perf_counter()
    known = await app_host.client.post("/api/auth/email-code", json={"email": "alice@example.com", "purpose": "reset"})
    known_seconds = time.perf_counter() - started
    started = time.perf_counter()
    unknown = await app_host.client.post("/api/auth/email-code", json={"email": "nobody@example.com", "purpose": "reset"})
    unknown_seconds = time.perf_counter() - started

    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert abs(known_seconds - unknown_seconds) < 0.2
    await mail_sink.wait_for("alice@example.com")
    await app_host.ctx.services["auth"].drain()
    assert mail_sink.to("nobody@example.com") == []


async def test_code_mails_limited_per_address(app_host: TestHost, mail_sink: MailSink) -> None:
    await _mail_host(app_host, mail_sink)
    statuses = []
    for index in range(20):
        forged = f"198.51.100.{index}"
        response = await app_host.client.post(
            "/api/auth/email-code",
            json={"email": "victim@example.com", "purpose": "register"},
            headers={"X-Forwarded-For": forged, "X-Real-IP": forged},
        )
        statuses.append(response.status_code)
    assert statuses[0] == 200
    assert set(statuses[1:]) == {429}
    assert len(mail_sink.to("victim@example.com")) == 1


async def test_code_request_without_smtp(app_host: TestHost) -> None:
    response = await app_host.client.post(
        "/api/auth/email-code", json={"email": "alice@example.com", "purpose": "register"}
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "mail_not_configured"


async def test_unreachable_smtp_reported(app_host: TestHost) -> None:
    admin = await root_token(app_host)
    # Nothing listens on port 1 of the loopback address, so the connection is refused.
    await configure_mail(app_host, MailSink(host="127.0.0.1", port=1), admin)
    response = await app_host.client.post(
        "/api/auth/email-code", json={"email": "alice@example.com", "purpose": "register"}
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "mail_send_failed"


async def test_concurrent_code_use_succeeds_once(app_host: TestHost) -> None:
    store = CodeStore(app_host.db)
    now = dt.datetime.now(dt.UTC)
    code = await store.issue("race@example.com", "reset", now, 600)
    results = await asyncio.gather(*(store.consume("race@example.com", "reset", code, now, 5) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]


async def test_admin_test_mail_delivered(app_host: TestHost, mail_sink: MailSink) -> None:
    admin = await _mail_host(app_host, mail_sink)
    sent = await app_host.client.post(
        "/api/admin/settings/mail/test", json={"to": "ops@example.com"}, headers=bearer(admin)
    )
    assert sent.status_code == 204
    mails = await mail_sink.wait_for("ops@example.com")
    assert "SMTP" in mails[0]["Subject"]
