"""Usage records and the daily aggregates behind the dashboard, dated in the site's timezone."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from chatnio_host.billing.sql import insert_or_add
from chatnio_host.db.models.billing import DailyAggregate, UsageRecord
from chatnio_host.db.session import Database
from chatnio_host.relay.canonical import Usage
from chatnio_host.site.store import SiteSettingsStore

__all__ = ["Counts", "add_counts", "local_day", "site_timezone", "usage_record"]

logger = logging.getLogger(__name__)

SITE_SECTION = "general"  # the section of chatnio_host.site.general.GeneralSettings
AGGREGATE_ATTEMPTS = 3

aggregates = DailyAggregate.__table__


async def site_timezone(site: SiteSettingsStore) -> ZoneInfo:
    """Return the zone named by the ``general.timezone`` setting (an IANA name; UTC when unset or unknown)."""
    name = (await site.get_raw(SITE_SECTION)).get("timezone") or "UTC"
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("general.timezone %r is not an IANA zone name; counting days in UTC", name)
        return ZoneInfo("UTC")


def local_day(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    """Return the date of ``moment`` in ``zone``."""
    return moment.astimezone(zone).date()


def usage_record(
    *,
    request_id: str,
    user_id: int | None,
    api_key_id: int | None,
    model: str,
    model_sent: str | None,
    channel_id: int | None,
    usage: Usage | None,
    points: int,
    subscription: bool,
    cached: bool,
    status: str,
    error: str | None,
    latency_ms: int | None,
    now: dt.datetime,
) -> UsageRecord:
    """Build the usage record of one request."""
    counts = usage or Usage(reported=False)
    return UsageRecord(
        request_id=request_id,
        user_id=user_id,
        api_key_id=api_key_id,
        model=model[:128],
        model_sent=model_sent[:128] if model_sent else None,
        channel_id=channel_id,
        input_tokens=counts.input_tokens,
        cached_input_tokens=counts.cached_input_tokens,
        cache_write_tokens=counts.cache_write_tokens,
        output_tokens=counts.output_tokens,
        reasoning_tokens=counts.reasoning_tokens,
        usage_source="vendor" if counts.reported else "estimate",
        points=points,
        subscription=subscription,
        cached=cached,
        status=status[:32],
        error=error[:500] if error else None,
        latency_ms=latency_ms,
        created_at=now,
    )


@dataclass
class Counts:
    """What one event adds to the aggregates of its day."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    points: int = 0
    income: int = 0


async def _add_rows(session: AsyncSession, backend: str, day: dt.date, scopes: list[tuple[str, str]], counts: Counts) -> None:
    # One statement with the rows in a fixed order keeps row locks in one order across transactions.
    rows = [
        {
            "day": day,
            "scope": scope,
            "key": key[:128],
            "requests": counts.requests,
            "errors": counts.errors,
            "input_tokens": counts.input_tokens,
            "output_tokens": counts.output_tokens,
            "points": counts.points,
            "income": counts.income,
        }
        for scope, key in sorted(set(scopes))
    ]
    await session.execute(insert_or_add(backend, aggregates, ("day", "scope", "key"), rows))


async def add_counts(db: Database, day: dt.date, scopes: list[tuple[str, str]], counts: Counts) -> None:
    """Add ``counts`` to each ``(scope, key)`` row of ``day``, retrying deadlocks.

    Aggregates are statistics, written after the money transaction commits; a failure is logged
    and leaves the ledger and usage records exact.
    """
    for attempt in range(1, AGGREGATE_ATTEMPTS + 1):
        try:
            async with db.transaction() as session:
                await _add_rows(session, db.backend, day, scopes, counts)
            return
        except DBAPIError as exc:
            if attempt == AGGREGATE_ATTEMPTS:
                logger.error("daily aggregates of %s not updated for %s: %s", day, scopes, exc)
                return
            logger.warning("daily aggregates of %s: attempt %d failed, retrying: %s", day, attempt, exc)
