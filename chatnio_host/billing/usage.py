"""Usage records and the counts of the daily aggregates, dated in the site's timezone.

``counters.CounterWriter`` writes the counts to the aggregates in batches.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chatnio_host.relay.canonical import Usage
from chatnio_host.site.store import SiteSettingsStore

__all__ = ["Counts", "local_day", "site_timezone", "usage_record"]

logger = logging.getLogger(__name__)

SITE_SECTION = "general"  # the section of chatnio_host.site.general.GeneralSettings


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
) -> dict[str, Any]:
    """Return the column values of the usage record of one request (table ``usage_records``)."""
    counts = usage or Usage(reported=False)
    return {
        "request_id": request_id,
        "user_id": user_id,
        "api_key_id": api_key_id,
        "model": model[:128],
        "model_sent": model_sent[:128] if model_sent else None,
        "channel_id": channel_id,
        "input_tokens": counts.input_tokens,
        "cached_input_tokens": counts.cached_input_tokens,
        "cache_write_tokens": counts.cache_write_tokens,
        "output_tokens": counts.output_tokens,
        "reasoning_tokens": counts.reasoning_tokens,
        "usage_source": "vendor" if counts.reported else "estimate",
        "points": points,
        "subscription": subscription,
        "cached": cached,
        "status": status[:32],
        "error": error[:500] if error else None,
        "latency_ms": latency_ms,
        "created_at": now,
    }


@dataclass
class Counts:
    """What one event adds to the aggregates of its day."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    points: int = 0
    income: int = 0
