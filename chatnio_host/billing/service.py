"""BillingService: prices, admission with holds, settlement, release and reconciliation.

The relay and the web chat call ``admit`` before any upstream call and then exactly one of
``settle`` or ``release``. Holds live in the database, so a hold left by a crashed process is
found and released by ``reconcile``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatnio_host.billing import ledger, statements
from chatnio_host.billing.counters import CounterWriter, Scope
from chatnio_host.billing.money import from_micro, points_json, to_micro
from chatnio_host.billing.prices import (
    PRICES_SECTION,
    Price,
    PricesConfig,
    cost_micro,
    estimate_micro,
    minimum_micro,
)
from chatnio_host.billing.sections import SectionCache
from chatnio_host.billing.settings import BILLING_SECTION, SUBSCRIPTION_SECTION, BillingConfig, SubscriptionConfig
from chatnio_host.billing.subscription_cache import SubscriptionCache
from chatnio_host.billing.subscriptions import return_unit, take_unit
from chatnio_host.billing.wallet import WalletOperations
from chatnio_host.billing.usage import Counts, site_timezone, usage_record
from chatnio_host.db.models.billing import Hold as HoldRow, Subscription
from chatnio_host.errors import Conflict, InsufficientQuota, PermissionDenied
from chatnio_host.plugins import call_async_hook
from chatnio_host.relay.canonical import Usage

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = ["BillingService", "CallerLike", "Hold"]

logger = logging.getLogger(__name__)

COUNTER_INTERVAL_SECONDS = 2.0
"""How often the daily aggregates are written; the dashboard lags this process by at most this."""

RECONCILE_BATCH = 200


class CallerLike(Protocol):
    """The caller fields admission reads (``chatnio_host.auth.caller.Caller`` has them)."""

    api_key_id: int | None

    @property
    def user_id(self) -> int: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass
class Hold:
    """The points or subscription unit ``admit`` reserved for one request."""

    request_id: str
    model: str
    kind: str
    """points, subscription or free."""
    user_id: int | None = None
    api_key_id: int | None = None
    price: Price | None = None
    amount: int = 0
    """Micro-points reserved."""
    item_id: str | None = None
    period_start: dt.datetime | None = None
    created_at: dt.datetime | None = None

    @property
    def subscription(self) -> bool:
        """Whether a subscription unit covers the request."""
        return self.kind == "subscription"


class BillingService(WalletOperations):
    """Money operations of one app."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._reconcile_task: asyncio.Task[None] | None = None
        self.sections = SectionCache(ctx.site)
        self.subscriptions = SubscriptionCache(ctx.db, ctx.state)
        self.counters = CounterWriter(ctx.db, self._zone, interval=COUNTER_INTERVAL_SECONDS)

    # Settings sections -------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The database dialect name."""
        return self.ctx.db.backend

    def now(self) -> dt.datetime:
        """Return the app clock's time."""
        return self.ctx.clock.now()

    async def prices(self) -> PricesConfig:
        """Return the ``prices`` section."""
        return await self.ctx.site.get(PRICES_SECTION, PricesConfig)

    async def subscription_config(self) -> SubscriptionConfig:
        """Return the ``subscription`` section."""
        return await self.ctx.site.get(SUBSCRIPTION_SECTION, SubscriptionConfig)

    async def billing_config(self) -> BillingConfig:
        """Return the ``billing`` section."""
        return await self.ctx.site.get(BILLING_SECTION, BillingConfig)

    async def price_for(self, model: str) -> Price | None:
        """Return the price of ``model``, or None when no rule lists it."""
        return (await self.sections.prices()).prices.get(model)

    async def _zone(self) -> Any:
        return await site_timezone(self.ctx.site)

    # Subscriptions ---------------------------------------------------------------------------

    async def subscription_of(self, user_id: int) -> Subscription | None:
        """Return the user's subscription row, active or not."""
        async with self.ctx.db.session() as session:
            return await session.get(Subscription, user_id)

    async def active_level(self, user_id: int) -> int:
        """Return the user's subscription level now, 0 when none is active (from the snapshot cache)."""
        snapshot = await self.subscriptions.get(user_id)
        return snapshot.level if snapshot is not None and snapshot.active(self.now()) else 0

    # Admission ---------------------------------------------------------------------------

    async def admit(
        self,
        caller: CallerLike | None,
        model: str,
        *,
        estimated_input_tokens: int = 0,
        max_output_tokens: int | None = None,
        request_id: str,
        use_subscription: bool = True,
    ) -> Hold:
        """Check the price and balance of a request and reserve what it may cost.

        ``use_subscription`` lets a covered model take a unit of the caller's subscription; for
        API-key callers the site's ``relay_plan`` flag must allow it too. Raises
        ``PermissionDenied`` (unpriced model, or login needed) or ``InsufficientQuota``.
        """
        now = self.now()
        price = await self.price_for(model)
        user_id = caller.user_id if caller is not None else None
        api_key_id = getattr(caller, "api_key_id", None) if caller is not None else None
        hold = Hold(request_id=request_id, model=model, kind="free", user_id=user_id, api_key_id=api_key_id, price=price, created_at=now)

        if price is None:
            if caller is None or not caller.is_admin:
                raise PermissionDenied(
                    f"The price of model {model!r} is not set, so it cannot be used yet; ask the site admin to price it.",
                    param="model",
                    code="model_not_priced",
                )
            await self._store_hold(hold)
            return hold

        if price.kind == "none":
            if caller is None and not price.anonymous:
                raise PermissionDenied(f"Sign in to use model {model!r}.", param="model", code="login_required")
            await self._store_hold(hold)
            return hold

        if caller is None:
            raise PermissionDenied(f"Sign in to use model {model!r}; it is paid with points.", param="model", code="login_required")

        if use_subscription and await self._admit_with_subscription(hold, caller, now):
            return hold

        minimum = minimum_micro(price)
        estimate = max(minimum, estimate_micro(price, estimated_input_tokens, max_output_tokens))
        hold.kind = "points"
        # The larger hold first; when only the minimum fits, hold the minimum.
        for amount in dict.fromkeys((estimate, minimum)):
            hold.amount = amount
            if await self._take_points(hold):
                logger.info("hold %s: %s micro-points for user %s on %s", request_id, amount, user_id, model)
                return hold

        async with self.ctx.db.session() as session:
            balance = await ledger.balance_of(session, caller.user_id)
        logger.info("admission rejected for user %s on %s: needs %s, has %s", user_id, model, minimum, balance.available)
        raise InsufficientQuota(
            f"Insufficient points for model {model!r}: at least {from_micro(minimum)} points are required "
            f"and {from_micro(balance.available)} are available. Buy points or redeem a code.",
            param="model",
        )

    async def _admit_with_subscription(self, hold: Hold, caller: CallerLike, now: dt.datetime) -> bool:
        plans = await self.sections.subscriptions()
        config = plans.config
        if not config.enabled or (caller.api_key_id is not None and not config.relay_plan):
            return False
        if hold.model not in plans.covered:
            return False
        snapshot = await self.subscriptions.get(caller.user_id)
        if snapshot is None or not snapshot.active(now):
            return False
        plan = config.plan(snapshot.level)
        item = plan.item_for(hold.model) if plan else None
        if item is None:
            return False
        async with self._new_hold(hold.request_id) as connection:
            period = await take_unit(connection, self.backend, user_id=caller.user_id, item=item, anchor=snapshot.started_at, now=now)
            if period is None:
                logger.info("subscription item %s of user %s is used up; paying with points", item.id, caller.user_id)
                return False
            hold.kind = "subscription"
            hold.item_id = item.id
            hold.period_start = period
            await self._insert_hold(connection, hold)
        logger.info("hold %s: subscription item %s of user %s", hold.request_id, item.id, caller.user_id)
        return True

    async def _take_points(self, hold: Hold) -> bool:
        """Insert the hold and take its points in one transaction; roll both back when the points are short."""
        assert hold.user_id is not None
        async with self._new_hold(hold.request_id) as connection:
            # The hold's own new row first: the user's balance row stays locked for one statement.
            await self._insert_hold(connection, hold)
            result = await connection.execute(statements.TAKE_POINTS, {"p_user_id": hold.user_id, "p_amount": hold.amount})
            if result.rowcount != 1:
                await connection.rollback()
                return False
        return True

    async def _insert_hold(self, connection: AsyncConnection, hold: Hold) -> None:
        await connection.execute(
            statements.INSERT_HOLD,
            {
                "request_id": hold.request_id,
                "user_id": hold.user_id,
                "api_key_id": hold.api_key_id,
                "model": hold.model[:128],
                "kind": hold.kind,
                "amount": hold.amount,
                "item_id": hold.item_id,
                "period_start": hold.period_start,
                "state": "held",
                "charged": 0,
                "created_at": hold.created_at or self.now(),
                "finished_at": None,
            },
        )

    async def _store_hold(self, hold: Hold) -> None:
        async with self._new_hold(hold.request_id) as connection:
            await self._insert_hold(connection, hold)

    @asynccontextmanager
    async def _new_hold(self, request_id: str) -> AsyncIterator[AsyncConnection]:
        """Run a transaction that inserts a hold; a request id admitted before raises Conflict.

        The block commits when it ends, unless it rolled the transaction back itself.
        """
        try:
            async with self.ctx.db.write_transaction() as connection:
                yield connection
        except IntegrityError as exc:
            logger.warning("admission of request %s rejected: the request id already has a hold", request_id)
            raise Conflict(
                f"Request id {request_id!r} was already admitted; use a new request id for each request.",
                param="request_id",
                code="duplicate_request_id",
            ) from exc

    # Settlement ----------------------------------------------------------------------------

    async def settle(
        self,
        hold: Hold,
        usage: Usage,
        *,
        model_sent: str | None = None,
        channel_id: int | None = None,
        status: str = "success",
        latency_ms: int | None = None,
        cached: bool = False,
    ) -> Decimal:
        """Charge the request's real cost (rounded up once) and release the rest of its hold.

        Runs once per ``hold.request_id``: a second call changes nothing and returns the charge
        made by the first.
        """
        now = self.now()
        charge = 0
        if hold.kind == "points" and not cached and hold.price is not None:
            charge = cost_micro(hold.price, usage)

        async with self.ctx.db.write_transaction() as connection:
            finished = await connection.execute(
                statements.FINISH_HOLD,
                {"p_request_id": hold.request_id, "p_state": "settled", "p_charged": charge, "p_now": now},
            )
            if finished.rowcount != 1:
                previous = (await connection.execute(statements.READ_HOLD, {"p_request_id": hold.request_id})).first()
                if previous is not None and previous.state == "released":
                    logger.warning("settle %s ignored: the hold was already released, so the request is not charged", hold.request_id)
                else:
                    logger.info("settle %s ignored: the request was already settled", hold.request_id)
                return from_micro(int(previous.charged) if previous is not None else 0)

            if hold.user_id is not None and charge:
                entry = ledger.entry_values(
                    user_id=hold.user_id, delta=-charge, kind="charge", now=now, request_id=hold.request_id, reference=hold.model,
                )
                await connection.execute(statements.INSERT_LEDGER_ENTRY, entry)
            record = usage_record(
                request_id=hold.request_id, user_id=hold.user_id, api_key_id=hold.api_key_id, model=hold.model,
                model_sent=model_sent, channel_id=channel_id, usage=usage, points=charge,
                subscription=hold.subscription, cached=cached, status=status, error=None,
                latency_ms=latency_ms, now=now,
            )
            await connection.execute(statements.INSERT_USAGE_RECORD, record)
            # The balance last: the user's row stays locked only until the commit that follows.
            if hold.user_id is not None and (hold.amount or charge):
                await connection.execute(
                    statements.SETTLE_POINTS,
                    {"p_user_id": hold.user_id, "p_held": hold.amount, "p_charge": charge, "p_now": now},
                )

        logger.info("settled %s: charged %s micro-points of %s held", hold.request_id, charge, hold.amount)
        counts = Counts(requests=1, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, points=charge)
        await self._count(now, hold, channel_id, counts)
        await self._notify(record)
        return from_micro(charge)

    async def release(
        self,
        hold: Hold,
        *,
        status: str = "error",
        error: str | None = None,
        model_sent: str | None = None,
        channel_id: int | None = None,
        latency_ms: int | None = None,
        usage: Usage | None = None,
    ) -> None:
        """Release a failed request's hold: no charge, and a subscription unit it took goes back."""
        now = self.now()
        async with self.ctx.db.write_transaction() as connection:
            finished = await connection.execute(
                statements.FINISH_HOLD,
                {"p_request_id": hold.request_id, "p_state": "released", "p_charged": 0, "p_now": now},
            )
            if finished.rowcount != 1:
                logger.info("release %s ignored: the request was already settled or released", hold.request_id)
                return
            if hold.user_id is not None and hold.amount:
                await connection.execute(statements.RETURN_POINTS, {"p_user_id": hold.user_id, "p_held": hold.amount, "p_now": now})
            returned = False
            if hold.kind == "subscription" and hold.user_id is not None and hold.item_id and hold.period_start:
                returned = await return_unit(connection, user_id=hold.user_id, item_id=hold.item_id, period=hold.period_start)
            record = usage_record(
                request_id=hold.request_id, user_id=hold.user_id, api_key_id=hold.api_key_id, model=hold.model,
                model_sent=model_sent, channel_id=channel_id, usage=usage, points=0,
                subscription=hold.subscription, cached=False, status=status, error=error,
                latency_ms=latency_ms, now=now,
            )
            await connection.execute(statements.INSERT_USAGE_RECORD, record)
        logger.info(
            "released %s (%s): %s micro-points back, subscription unit returned: %s",
            hold.request_id, status, hold.amount, returned,
        )
        await self._count(now, hold, channel_id, Counts(errors=1))
        await self._notify(record)

    async def _count(self, now: dt.datetime, hold: Hold, channel_id: int | None, counts: Counts) -> None:
        scopes: list[Scope] = [("site", ""), ("model", hold.model)]
        if hold.user_id is not None:
            scopes.append(("user", str(hold.user_id)))
        if channel_id is not None:
            scopes.append(("channel", str(channel_id)))
        await self.counters.record(now, scopes, counts)

    async def _notify(self, record: dict[str, Any]) -> None:
        event = {
            "request_id": record["request_id"],
            "user_id": record["user_id"],
            "model": record["model"],
            "status": record["status"],
            "points": points_json(record["points"]),
            "subscription": record["subscription"],
        }
        try:
            await call_async_hook(self.ctx.plugins.pm.hook.usage_recorded(event=event))
        except Exception:  # noqa: BLE001 - an observer must not break billing
            logger.exception("usage_recorded hook failed for request %s", record["request_id"])

    # Reconciliation ----------------------------------------------------------------------

    def stale_hold_age(self) -> float:
        """Return the age in seconds after which a hold counts as left by a crashed process.

        It is ``hold_max_age_seconds``, raised to the longest time a stream may legitimately run
        (``max_stream_duration`` plus ``first_byte_timeout``), so a long stream keeps its hold.
        """
        settings = self.ctx.settings
        return max(settings.hold_max_age_seconds, settings.max_stream_duration + settings.first_byte_timeout)

    async def reconcile(self) -> int:
        """Release holds older than ``stale_hold_age()``; return how many were released."""
        cutoff = self.now() - dt.timedelta(seconds=self.stale_hold_age())
        async with self.ctx.db.session() as session:
            rows = list(
                await session.scalars(
                    select(HoldRow).where(HoldRow.state == "held", HoldRow.created_at < cutoff).limit(RECONCILE_BATCH)
                )
            )
        released = 0
        for row in rows:
            hold = Hold(
                request_id=row.request_id, model=row.model, kind=row.kind, user_id=row.user_id,
                api_key_id=row.api_key_id, amount=row.amount, item_id=row.item_id,
                period_start=row.period_start, created_at=row.created_at,
            )
            logger.warning(
                "reconciliation releases stale hold %s of user %s (%s micro-points, taken %s)",
                row.request_id, row.user_id, row.amount, row.created_at.isoformat(),
            )
            await self.release(hold, status="expired", error="hold released by reconciliation")
            released += 1
        return released

    async def _reconcile_forever(self) -> None:
        interval = self.ctx.settings.hold_reconcile_interval_seconds
        logger.info("hold reconciliation runs every %s s for holds older than %s s", interval, self.stale_hold_age())
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reconcile()
            except Exception:  # noqa: BLE001 - keep the loop alive; the next round retries
                logger.exception("hold reconciliation failed; retrying in %s s", interval)

    async def start(self) -> None:
        """Release stale holds now, start the periodic reconciliation and the counter writer."""
        released = await self.reconcile()
        logger.info("startup reconciliation released %d stale holds", released)
        self._reconcile_task = asyncio.create_task(self._reconcile_forever(), name="billing-reconcile")
        self.counters.start()

    async def flush(self) -> None:
        """Write the daily aggregate counts this process still holds."""
        await self.counters.flush()

    async def stop(self) -> None:
        """Stop the periodic reconciliation, then write the counts still held and stop the writer."""
        task, self._reconcile_task = self._reconcile_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            logger.info("hold reconciliation stopped")
        await self.counters.stop()

    # Points ----------------------------------------------------------------------------------

    async def grant_initial_points(self, session: Any, user_id: int) -> None:
        """Create the new user's balance and credit the configured initial points (in the caller's transaction)."""
        config = await self.billing_config()
        amount = to_micro(config.initial_points)
        # A new user may reuse the id of a deleted one (SQLite): drop that user's snapshot.
        await self.subscriptions.changed(user_id)
        await ledger.ensure_balance(session, self.backend, user_id)
        if amount:
            await ledger.credit(session, self.backend, user_id=user_id, delta=amount, kind="initial", now=self.now())
            logger.info("user %s received %s initial micro-points", user_id, amount)
