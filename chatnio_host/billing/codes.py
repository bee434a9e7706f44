"""Redeem codes (single-use, any user) and gift codes (single-use, one per user and type).

A claim is one conditional UPDATE (``... WHERE code = :code AND used_by IS NULL``) in the
transaction that credits the points, so under any race a code credits exactly once.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatnio_host.billing.ledger import credit
from chatnio_host.db.models.billing import GiftCode, RedeemCode
from chatnio_host.errors import Conflict, InvalidRequest, NotFound

__all__ = [
    "GIFT_TYPE_PATTERN",
    "claim_gift",
    "claim_redeem",
    "new_gift_code",
    "new_redeem_code",
    "normalize_code",
]

ALPHABET = string.ascii_letters + string.digits
REDEEM_PREFIX = "nio-"
REDEEM_LENGTH = 32
GIFT_LENGTH = 24
GIFT_TYPE_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,32}$")
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,32}-[A-Za-z0-9]{8,48}$")


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_redeem_code() -> str:
    """Return a fresh redeem code: ``nio-`` and 32 letters and digits."""
    return REDEEM_PREFIX + _random(REDEEM_LENGTH)


def new_gift_code(code_type: str) -> str:
    """Return a fresh gift code: its type, ``-`` and 24 letters and digits."""
    return f"{code_type}-{_random(GIFT_LENGTH)}"


def normalize_code(raw: str) -> str:
    """Strip whitespace and check the code's shape; raise InvalidRequest when malformed."""
    code = (raw or "").strip()
    if not code:
        raise InvalidRequest("The code is empty; paste the whole code.", param="code", code="invalid_code")
    if not CODE_PATTERN.match(code):
        raise InvalidRequest(
            "The code is malformed: a code is a prefix, '-' and letters and digits, such as nio-AbC123...",
            param="code",
            code="invalid_code",
        )
    return code


async def claim_redeem(session: AsyncSession, backend: str, *, code: str, user_id: int, now: dt.datetime) -> int:
    """Mark ``code`` used by ``user_id`` and credit its points; return the micro-points credited."""
    table = RedeemCode.__table__
    claimed = await session.execute(
        update(table).where(table.c.code == code, table.c.used_by.is_(None)).values(used_by=user_id, used_at=now)
    )
    row = await session.scalar(select(RedeemCode).where(RedeemCode.code == code))
    if claimed.rowcount != 1:
        if row is None:
            raise NotFound("This redeem code does not exist; check it for typos.", param="code", code="code_not_found")
        raise Conflict("This redeem code has already been used.", param="code", code="code_used")
    assert row is not None
    await credit(session, backend, user_id=user_id, delta=row.points, kind="redeem", now=now, reference=code)
    return row.points


async def claim_gift(session: AsyncSession, backend: str, *, code: str, user_id: int, now: dt.datetime) -> tuple[int, str]:
    """Mark gift ``code`` used by ``user_id`` and credit its points; return the micro-points and the code type.

    The unique key (used_by, type) rejects a second code of one type for one user, also under races.
    """
    table = GiftCode.__table__
    try:
        claimed = await session.execute(
            update(table).where(table.c.code == code, table.c.used_by.is_(None)).values(used_by=user_id, used_at=now)
        )
    except IntegrityError:
        kind = code.split("-", 1)[0]
        raise Conflict(
            f"You have already used a gift code of type {kind!r}; each user may use one code per type.",
            param="code",
            code="gift_type_used",
        ) from None
    row = await session.scalar(select(GiftCode).where(GiftCode.code == code))
    if claimed.rowcount != 1:
        if row is None:
            raise NotFound("This gift code does not exist; check it for typos.", param="code", code="code_not_found")
        raise Conflict("This gift code has already been used.", param="code", code="code_used")
    assert row is not None
    await credit(session, backend, user_id=user_id, delta=row.points, kind="gift", now=now, reference=code)
    return row.points, row.type
