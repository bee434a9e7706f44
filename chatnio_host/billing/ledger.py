"""Balance changes that always write a ledger row in the same transaction.

Every function takes the caller's session and runs inside its transaction; the caller commits.
Each function that changes a balance starts with a write, so SQLite takes its write lock before
any read.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatnio_host.billing.sql import lock_or_create
from chatnio_host.db.models.billing import Balance, LedgerEntry

__all__ = [
    "add_entry",
    "balance_of",
    "credit",
    "debit_if_available",
    "ensure_balance",
    "entry_values",
    "ledger_sum",
    "lock_balance",
]

logger = logging.getLogger(__name__)

balances = Balance.__table__


async def ensure_balance(session: AsyncSession, backend: str, user_id: int) -> None:
    """Lock the user's balance row for the transaction, creating it (0 points) when missing."""
    await lock_or_create(
        session, backend, balances, (balances.c.user_id == user_id,), "available",
        {"user_id": user_id, "available": 0, "held": 0, "used": 0},
    )


async def lock_balance(session: AsyncSession, backend: str, user_id: int) -> Balance:
    """Create and lock the user's balance row for the rest of the transaction, then return it."""
    await ensure_balance(session, backend, user_id)
    row = await session.execute(select(balances).where(balances.c.user_id == user_id))
    record = row.one()
    return Balance(user_id=record.user_id, available=record.available, held=record.held, used=record.used)


def entry_values(
    *,
    user_id: int,
    delta: int,
    kind: str,
    now: dt.datetime,
    request_id: str | None = None,
    actor_id: int | None = None,
    reference: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Return the column values of one ledger row."""
    return {
        "user_id": user_id,
        "delta": delta,
        "kind": kind,
        "request_id": request_id,
        "actor_id": actor_id,
        "reference": reference[:128] if reference else None,
        "note": note[:255] if note else None,
        "created_at": now,
    }


def add_entry(
    session: AsyncSession,
    *,
    user_id: int,
    delta: int,
    kind: str,
    now: dt.datetime,
    request_id: str | None = None,
    actor_id: int | None = None,
    reference: str | None = None,
    note: str | None = None,
) -> None:
    """Add one ledger row to the session."""
    session.add(
        LedgerEntry(
            **entry_values(
                user_id=user_id, delta=delta, kind=kind, now=now, request_id=request_id,
                actor_id=actor_id, reference=reference, note=note,
            )
        )
    )


async def credit(
    session: AsyncSession,
    backend: str,
    *,
    user_id: int,
    delta: int,
    kind: str,
    now: dt.datetime,
    actor_id: int | None = None,
    reference: str | None = None,
    note: str | None = None,
    request_id: str | None = None,
) -> None:
    """Add ``delta`` micro-points (negative takes) without a floor, with its ledger row."""
    await ensure_balance(session, backend, user_id)
    await session.execute(
        update(balances)
        .where(balances.c.user_id == user_id)
        .values(available=balances.c.available + delta, updated_at=now)
    )
    add_entry(
        session, user_id=user_id, delta=delta, kind=kind, now=now,
        actor_id=actor_id, reference=reference, note=note, request_id=request_id,
    )


async def debit_if_available(
    session: AsyncSession,
    backend: str,
    *,
    user_id: int,
    amount: int,
    kind: str,
    now: dt.datetime,
    reference: str | None = None,
    note: str | None = None,
    request_id: str | None = None,
) -> bool:
    """Take ``amount`` micro-points as a payment when the available balance covers it.

    One conditional UPDATE decides, so concurrent payments never spend the same points twice.
    """
    await ensure_balance(session, backend, user_id)
    result = await session.execute(
        update(balances)
        .where(balances.c.user_id == user_id, balances.c.available >= amount)
        .values(available=balances.c.available - amount, used=balances.c.used + amount, updated_at=now)
    )
    if result.rowcount != 1:
        return False
    add_entry(session, user_id=user_id, delta=-amount, kind=kind, now=now, reference=reference, note=note, request_id=request_id)
    return True


async def balance_of(session: AsyncSession, user_id: int) -> Balance:
    """Return the user's balance (zeros when the row does not exist)."""
    row = await session.get(Balance, user_id, populate_existing=True)
    if row is None:
        return Balance(user_id=user_id, available=0, held=0, used=0)
    return row


async def ledger_sum(session: AsyncSession, user_id: int) -> int:
    """Return the sum of the user's ledger rows in micro-points."""
    total = await session.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(LedgerEntry.user_id == user_id))
    return int(total or 0)
