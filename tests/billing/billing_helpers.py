"""Helpers for billing tests: users with points, price rules, and the ledger invariant."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from chatnio_host.billing import to_micro
from chatnio_host.billing.service import BillingService
from chatnio_host.clock import Clock
from chatnio_host.db.models.billing import Balance, Hold, LedgerEntry
from chatnio_host.db.models.user import User
from chatnio_host.testing import TestHost


@dataclass
class FakeCaller:
    """A caller as the auth concept builds it, for service-level tests."""

    user: User
    api_key_id: int | None = None
    group: str = "normal"

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"


def billing(host: TestHost) -> BillingService:
    return host.ctx.services["billing"]


async def make_user(host: TestHost, name: str | None = None, *, points: str | int = 0, admin: bool = False) -> User:
    """Insert a user and give them ``points`` through an admin ledger row."""
    user = User(
        username=name or f"u{secrets.token_hex(4)}",
        password_hash="x",
        role="admin" if admin else "user",
    )
    async with host.ctx.db.transaction() as session:
        session.add(user)
        await session.flush()
        await billing(host).grant_initial_points(session, user.id)
    if Decimal(points):
        await billing(host).adjust_points(user.id, actor_id=0, delta=Decimal(points), set_to=None, reason="test setup")
    return user


async def set_prices(host: TestHost, *rules: dict[str, Any], **section: Any) -> None:
    await host.ctx.site.put("prices", {"rules": list(rules), **section})


async def available(host: TestHost, user_id: int) -> int:
    return (await billing(host).balance(user_id)).available


async def check_ledger(host: TestHost) -> None:
    """Assert the invariant: every balance equals its ledger sum, and ``held`` equals the open holds."""
    async with host.ctx.db.session() as session:
        for balance in await session.scalars(select(Balance)):
            total = await session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(LedgerEntry.user_id == balance.user_id)
            )
            assert balance.available + balance.held == int(total), f"user {balance.user_id}: balance differs from ledger"
            open_holds = await session.scalar(
                select(func.coalesce(func.sum(Hold.amount), 0)).where(Hold.user_id == balance.user_id, Hold.state == "held")
            )
            assert balance.held == int(open_holds), f"user {balance.user_id}: held differs from open holds"



def points(value: str) -> int:
    return to_micro(value)


async def headers_for(host: TestHost, user: User) -> dict[str, str]:
    """Return the Authorization header of a session token for ``user``."""
    # PyJWT checks expiry against the real time, so tokens are issued on the real clock.
    clock, host.ctx.clock = host.ctx.clock, Clock()
    try:
        token = await host.ctx.services["auth"].issue_token(user)
    finally:
        host.ctx.clock = clock
    return {"Authorization": f"Bearer {token}"}


async def api_key_for(host: TestHost, user: User) -> str:
    """Create an API key for ``user`` through the keys API and return it."""
    response = await host.client.post("/api/keys", json={"name": "billing-test"}, headers=await headers_for(host, user))
    assert response.status_code == 201, response.text
    return response.json()["key"]
