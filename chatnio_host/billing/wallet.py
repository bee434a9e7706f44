"""Balance, ledger, codes, admin adjustments and subscription purchases: the BillingService methods
behind the user and admin routes."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update

from chatnio_host.billing import ledger
from chatnio_host.billing.codes import claim_gift, claim_redeem, new_gift_code, new_redeem_code, normalize_code
from chatnio_host.billing.money import from_micro, to_micro
from chatnio_host.billing.subscriptions import lock_subscription, quote_purchase, read_usage, to_seconds
from chatnio_host.billing.usage import Counts
from chatnio_host.db.models.billing import Balance, GiftCode, LedgerEntry, RedeemCode, Subscription, SubscriptionUsage
from chatnio_host.db.models.user import User
from chatnio_host.errors import InsufficientQuota, InvalidRequest, NotFound

if TYPE_CHECKING:
    from chatnio_host.billing.service import BillingService

__all__ = ["WalletOperations"]

logger = logging.getLogger(__name__)


class WalletOperations:
    """Mixed into BillingService; ``self`` is the service."""

    async def balance(self: BillingService, user_id: int) -> Balance:
        """Return the user's balance row (zeros when none exists)."""
        async with self.ctx.db.session() as session:
            return await ledger.balance_of(session, user_id)

    async def balances_for(self: BillingService, user_ids: list[int]) -> dict[int, Balance]:
        """Return the balances of several users (admin user lists); users without a row are left out."""
        if not user_ids:
            return {}
        async with self.ctx.db.session() as session:
            rows = await session.scalars(select(Balance).where(Balance.user_id.in_(user_ids)))
            return {row.user_id: row for row in rows}

    async def ledger_page(self: BillingService, user_id: int, *, page: int, size: int) -> tuple[list[LedgerEntry], int]:
        """Return one page of the user's ledger, newest first, and the number of rows."""
        async with self.ctx.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.user_id == user_id))
            rows = await session.scalars(
                select(LedgerEntry).where(LedgerEntry.user_id == user_id).order_by(LedgerEntry.id.desc()).offset((page - 1) * size).limit(size)
            )
            return list(rows), int(total or 0)

    async def credit_points(
        self: BillingService,
        user_id: int,
        points: int,
        *,
        kind: str = "purchase",
        reference: str | None = None,
        note: str | None = None,
        income: bool = True,
    ) -> None:
        """Credit ``points`` micro-points bought by the user (payments call this); counts as income."""
        now = self.now()
        async with self.ctx.db.transaction() as session:
            await ledger.credit(session, self.backend, user_id=user_id, delta=points, kind=kind, now=now, reference=reference, note=note)
        logger.info("user %s credited %s micro-points (%s %s)", user_id, points, kind, reference)
        if income:
            await self._count_income(now, points)

    async def _count_income(self: BillingService, now: dt.datetime, points: int) -> None:
        await self.counters.record(now, [("site", "")], Counts(income=points))

    async def adjust_points(self: BillingService, user_id: int, *, actor_id: int, delta: Decimal | None, set_to: Decimal | None, reason: str) -> Balance:
        """Add ``delta`` points, or set the balance (available plus held) to ``set_to``, through the ledger."""
        now = self.now()
        async with self.ctx.db.transaction() as session:
            if await session.get(User, user_id) is None:
                raise NotFound(f"User {user_id} does not exist.", param="id")
            current = await ledger.lock_balance(session, self.backend, user_id)
            if delta is not None:
                change = to_micro(delta)
            else:
                assert set_to is not None
                change = to_micro(set_to) - (current.available + current.held)
            if change:
                await ledger.credit(session, self.backend, user_id=user_id, delta=change, kind="admin", now=now, actor_id=actor_id, note=reason or None)
        logger.info("admin %s changed the points of user %s by %s micro-points: %s", actor_id, user_id, change, reason)
        return await self.balance(user_id)

    # Codes -----------------------------------------------------------------------------------

    async def redeem(self: BillingService, user_id: int, raw_code: str) -> int:
        """Claim a redeem code for the user; return the micro-points credited."""
        code = normalize_code(raw_code)
        now = self.now()
        async with self.ctx.db.transaction() as session:
            points = await claim_redeem(session, self.backend, code=code, user_id=user_id, now=now)
        logger.info("user %s redeemed code %s for %s micro-points", user_id, code[:8] + "...", points)
        await self._count_income(now, points)
        return points

    async def gift(self: BillingService, user_id: int, raw_code: str) -> int:
        """Claim a gift code for the user; return the micro-points credited."""
        code = normalize_code(raw_code)
        now = self.now()
        async with self.ctx.db.transaction() as session:
            points, code_type = await claim_gift(session, self.backend, code=code, user_id=user_id, now=now)
        logger.info("user %s used a gift code of type %s for %s micro-points", user_id, code_type, points)
        return points

    async def generate_redeem_codes(self: BillingService, *, name: str, points: int, count: int, actor_id: int) -> list[str]:
        """Create ``count`` redeem codes of ``points`` micro-points in batch ``name``."""
        now = self.now()
        codes = [new_redeem_code() for _ in range(count)]
        async with self.ctx.db.transaction() as session:
            session.add_all(RedeemCode(code=code, name=name, points=points, created_by=actor_id, created_at=now) for code in codes)
        logger.info("admin %s generated %d redeem codes of %s micro-points in batch %s", actor_id, count, points, name)
        return codes

    async def generate_gift_codes(self: BillingService, *, code_type: str, points: int, count: int, actor_id: int) -> list[str]:
        """Create ``count`` gift codes of ``code_type`` worth ``points`` micro-points."""
        now = self.now()
        codes = [new_gift_code(code_type) for _ in range(count)]
        async with self.ctx.db.transaction() as session:
            session.add_all(GiftCode(code=code, type=code_type, points=points, created_by=actor_id, created_at=now) for code in codes)
        logger.info("admin %s generated %d gift codes of type %s", actor_id, count, code_type)
        return codes

    async def list_codes(self: BillingService, model: Any, *, page: int, size: int, filters: dict[str, Any]) -> tuple[list[Any], int]:
        """Return one page of redeem or gift codes, newest first, and the number of matches."""
        conditions = []
        for column, value in filters.items():
            if value is None:
                continue
            if column == "used":
                conditions.append(model.used_by.is_not(None) if value else model.used_by.is_(None))
            else:
                conditions.append(getattr(model, column) == value)
        async with self.ctx.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(model).where(*conditions))
            rows = await session.scalars(select(model).where(*conditions).order_by(model.id.desc()).offset((page - 1) * size).limit(size))
            return list(rows), int(total or 0)

    async def delete_codes(self: BillingService, model: Any, *, code: str | None, group: tuple[str, str] | None) -> int:
        """Delete one code, or the unused codes of a batch or type; return how many were deleted."""
        async with self.ctx.db.transaction() as session:
            if code is not None:
                result = await session.execute(delete(model).where(model.code == code))
            else:
                assert group is not None
                column, value = group
                result = await session.execute(delete(model).where(getattr(model, column) == value, model.used_by.is_(None)))
        return int(result.rowcount or 0)

    # Subscriptions ---------------------------------------------------------------------------

    async def subscription_view(self: BillingService, user_id: int) -> dict[str, Any]:
        """Return the user's level, expiry and usage per item of the current period."""
        config = await self.subscription_config()
        now = self.now()
        zero = {"enabled": config.enabled, "level": 0, "is_subscribed": False, "enterprise": False, "expires_at": None, "expired_days": 0, "usage": {}}
        if not config.enabled:
            return zero
        row = await self.subscription_of(user_id)
        if row is None or row.level <= 0 or row.expires_at <= now:
            return {**zero, "expires_at": row.expires_at.isoformat() if row and row.level > 0 else None}
        plan = config.plan(row.level)
        usage: dict[str, dict[str, int]] = {}
        if plan is not None:
            async with self.ctx.db.session() as session:
                usage = await read_usage(session, user_id=user_id, plan=plan, anchor=row.started_at, now=now)
        return {
            "enabled": True,
            "level": row.level,
            "is_subscribed": True,
            "enterprise": row.enterprise,
            "expires_at": row.expires_at.isoformat(),
            "expired_days": round((row.expires_at - now).total_seconds() / 86400),
            "usage": usage,
        }

    async def buy_subscription(self: BillingService, user_id: int, *, level: int, months: int) -> dict[str, Any]:
        """Buy, renew, upgrade or downgrade, paid in points (CNY price x 10)."""
        config = await self.subscription_config()
        if not config.enabled:
            raise InvalidRequest("Subscriptions are disabled on this site.", code="subscription_disabled")
        now = to_seconds(self.now())
        async with self.ctx.db.transaction() as session:
            row = await lock_subscription(session, self.backend, user_id, now)
            quote = quote_purchase(config, row, level=level, months=months, now=now)
            if quote.cost:
                paid = await ledger.debit_if_available(
                    session, self.backend, user_id=user_id, amount=quote.cost, kind="subscription", now=now,
                    reference=f"level {level} x {months} months ({quote.action})",
                )
                if not paid:
                    balance = await ledger.balance_of(session, user_id)
                    raise InsufficientQuota(
                        f"Not enough points for this subscription: it costs {from_micro(quote.cost)} points and "
                        f"{from_micro(balance.available)} are available. Buy points or redeem a code.",
                        param="level",
                    )
            if quote.action == "new":
                await session.execute(delete(SubscriptionUsage).where(SubscriptionUsage.user_id == user_id))
            row.level = quote.level
            row.expires_at = quote.expires_at
            row.started_at = quote.started_at
            row.total_months = row.total_months + quote.add_months
        await self.subscriptions.changed(user_id)
        logger.info("user %s subscription %s: level %s until %s, paid %s micro-points", user_id, quote.action, level, quote.expires_at, quote.cost)
        return {"action": quote.action, "cost": quote.cost, "level": quote.level, "expires_at": quote.expires_at}

    async def set_subscription(self: BillingService, user_id: int, *, level: int | None, expires_at: dt.datetime | None, actor_id: int) -> Subscription:
        """Set a user's subscription level and/or expiry (admin)."""
        now = self.now()
        async with self.ctx.db.transaction() as session:
            if await session.get(User, user_id) is None:
                raise NotFound(f"User {user_id} does not exist.", param="id")
            row = await lock_subscription(session, self.backend, user_id, now)
            if level is not None:
                if row.level == 0 and level > 0:
                    row.started_at = to_seconds(now)
                row.level = level
            if expires_at is not None:
                row.expires_at = to_seconds(expires_at.astimezone(dt.UTC))
        await self.subscriptions.changed(user_id)
        logger.info("admin %s set subscription of user %s: level %s, expires %s", actor_id, user_id, level, expires_at)
        return row

    async def release_subscription_usage(self: BillingService, user_id: int, *, actor_id: int) -> int:
        """Reset the usage of every item of the user's plan to 0, keeping each period start."""
        row = await self.subscription_of(user_id)
        if row is None or row.level <= 0:
            raise InvalidRequest(f"User {user_id} has no subscription whose usage could be released.", param="id")
        config = await self.subscription_config()
        plan = config.plan(row.level)
        item_ids = [item.id for item in plan.items] if plan else []
        async with self.ctx.db.transaction() as session:
            result = await session.execute(
                update(SubscriptionUsage.__table__)
                .where(SubscriptionUsage.user_id == user_id, SubscriptionUsage.item_id.in_(item_ids))
                .values(used=0)
            )
        logger.info("admin %s released the subscription usage of user %s (%s items)", actor_id, user_id, result.rowcount)
        return int(result.rowcount or 0)
