"""Emailed verification codes: single-use, bound to an address and a purpose, attempt-limited.

A new code for the same address and purpose replaces the older ones. A code stops working after
``code_max_failed_attempts`` wrong entries, counted per address and purpose, not per IP.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select, update

from chatnio_host.auth import security
from chatnio_host.db.models.auth import EmailCode
from chatnio_host.db.session import Database

__all__ = ["CodeStore"]

logger = logging.getLogger(__name__)


class CodeStore:
    """Issue and consume codes in the ``email_codes`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def issue(self, email: str, purpose: str, now: dt.datetime, ttl_seconds: int) -> str:
        """Create a code for ``email`` and ``purpose``, deleting every older one, and return it."""
        code = security.generate_email_code()
        async with self.db.transaction() as session:
            await session.execute(delete(EmailCode).where(EmailCode.email == email, EmailCode.purpose == purpose))
            await session.execute(delete(EmailCode).where(EmailCode.expires_at < now - dt.timedelta(days=1)))
            session.add(
                EmailCode(
                    email=email,
                    purpose=purpose,
                    code_hash=security.hash_code(email, purpose, code),
                    failed_attempts=0,
                    created_at=now,
                    expires_at=now + dt.timedelta(seconds=ttl_seconds),
                )
            )
        logger.info("issued a %s code for %s", purpose, email)
        return code

    async def consume(self, email: str, purpose: str, code: str, now: dt.datetime, max_failed: int) -> bool:
        """Use the code once; return False when it is wrong, used, expired, replaced or locked."""
        async with self.db.transaction() as session:
            row = await session.scalar(
                select(EmailCode)
                .where(EmailCode.email == email, EmailCode.purpose == purpose, EmailCode.used_at.is_(None))
                .order_by(EmailCode.id.desc())
                .limit(1)
            )
            if row is None:
                logger.info("no open %s code for %s", purpose, email)
                return False
            if row.expires_at <= now or row.failed_attempts >= max_failed:
                logger.info("rejected an expired or locked %s code for %s", purpose, email)
                return False

            if not security.codes_equal(row.code_hash, security.hash_code(email, purpose, code.strip())):
                await session.execute(
                    update(EmailCode)
                    .where(EmailCode.id == row.id)
                    .values(failed_attempts=EmailCode.failed_attempts + 1)
                )
                logger.info("wrong %s code for %s (%d failed before)", purpose, email, row.failed_attempts)
                return False

            # The condition makes two concurrent uses of one code succeed at most once.
            result = await session.execute(
                update(EmailCode)
                .where(
                    EmailCode.id == row.id,
                    EmailCode.used_at.is_(None),
                    EmailCode.failed_attempts < max_failed,
                )
                .values(used_at=now)
            )
            used = result.rowcount == 1
        logger.info("%s code for %s %s", purpose, email, "used" if used else "lost a race and was not used")
        return used
