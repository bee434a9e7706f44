"""The batched writer of the daily aggregates: counters leave the request path.

Settlement and release add their counts in memory, keyed by the UTC minute of the event. A
background task adds them to the ``daily_aggregates`` rows every ``interval`` seconds in one
transaction, and ``stop`` writes what is left at shutdown. A minute falls on one local day in
every zone (offsets are whole quarter hours), so the day is resolved with the site's timezone
when the minute is written.

The aggregates are statistics: the ledger, the balances and the usage records stay exact
without them. A failed write keeps its counts for the next round, so a database outage delays
the dashboard instead of losing counts; only a crash loses the last ``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError

from chatnio_host.billing.sql import insert_or_add
from chatnio_host.billing.usage import Counts, local_day
from chatnio_host.db.models.billing import DailyAggregate
from chatnio_host.db.session import Database

__all__ = ["CounterWriter", "Scope"]

logger = logging.getLogger(__name__)

aggregates = DailyAggregate.__table__

Scope = tuple[str, str]
"""``(scope, key)``: ``("site", "")``, ``("model", name)``, ``("user", id)`` or ``("channel", id)``."""

ROWS_PER_STATEMENT = 100
"""Rows of one INSERT: 9 values each stays under SQLite's oldest limit of 999 parameters."""

FIELDS = tuple(field.name for field in dataclasses.fields(Counts))


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def _add(target: dict[object, Counts], key: object, counts: Counts) -> None:
    current = target.get(key)
    if current is None:
        target[key] = dataclasses.replace(counts)
        return
    for name in FIELDS:
        setattr(current, name, getattr(current, name) + getattr(counts, name))


class CounterWriter:
    """Counts of the daily aggregates, kept in memory and written in batches."""

    def __init__(self, db: Database, zone: Callable[[], Awaitable[ZoneInfo]], *, interval: float = 2.0) -> None:
        self.db = db
        self.zone = zone
        self.interval = interval
        self._minutes: dict[object, Counts] = {}
        """Counts by ``(minute, scope, key)`` not yet resolved to a day."""
        self._days: dict[object, Counts] = {}
        """Counts by ``(day, scope, key)`` whose write failed, kept for the next round."""
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._running = False

    @property
    def running(self) -> bool:
        """Whether the background task writes the counts (between ``start`` and ``stop``)."""
        return self._running

    @property
    def pending(self) -> int:
        """The number of counter rows waiting to be written."""
        return len(self._minutes) + len(self._days)

    def add(self, moment: dt.datetime, scopes: Iterable[Scope], counts: Counts) -> None:
        """Add ``counts`` to each scope's row of the day of ``moment``; written by the next flush."""
        minute = _minute(moment)
        for scope, key in set(scopes):
            _add(self._minutes, (minute, scope, key[:128]), counts)

    async def record(self, moment: dt.datetime, scopes: Iterable[Scope], counts: Counts) -> None:
        """Add ``counts``: in memory while the writer runs, else written at once (before start, after stop).

        A failed write is logged, not raised, and its counts wait for the next flush.
        """
        self.add(moment, scopes, counts)
        if self._running:
            return
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - the money is committed; the counts wait for the next flush
            logger.warning("daily aggregates: %d counter rows wait for the next flush", self.pending)

    async def flush(self) -> None:
        """Write every count held so far; counts of a failed write stay for the next flush.

        The write is shielded, so a caller that is cancelled never leaves it half done.
        """
        await asyncio.shield(self._flush())

    async def _flush(self) -> None:
        async with self._lock:
            if not self._minutes and not self._days:
                return
            minutes, self._minutes = self._minutes, {}
            days, self._days = self._days, {}
            try:
                zone = await self.zone()
                for (minute, scope, key), counts in minutes.items():
                    _add(days, (local_day(minute, zone), scope, key), counts)
                minutes = {}
                await self._write(days)
            except Exception as exc:
                for key, counts in minutes.items():
                    _add(self._minutes, key, counts)
                for key, counts in days.items():
                    _add(self._days, key, counts)
                logger.warning("daily aggregates: writing %d rows failed; they wait for the next flush: %s", self.pending, exc)
                raise

    async def _write(self, days: dict[object, Counts]) -> None:
        # Rows in key order, so concurrent writers (replicas) lock them in the same order.
        rows = [
            {"day": day, "scope": scope, "key": key, **dataclasses.asdict(counts)}
            for (day, scope, key), counts in sorted(days.items(), key=lambda item: item[0])  # type: ignore[arg-type, return-value]
        ]
        async with self.db.write_transaction() as connection:
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                batch = rows[start:start + ROWS_PER_STATEMENT]
                await connection.execute(insert_or_add(self.db.backend, aggregates, ("day", "scope", "key"), batch))
        logger.debug("daily aggregates: wrote %d rows", len(rows))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except DBAPIError:
                pass  # logged by _flush; the counts wait for the next round
            except Exception:  # noqa: BLE001 - keep the writer alive; its counts stay for the next round
                logger.exception("daily aggregates: the writer failed; retrying in %s s", self.interval)

    def start(self) -> None:
        """Start writing every ``interval`` seconds."""
        if self._task is None:
            self._running = True
            self._task = asyncio.create_task(self._loop(), name="billing-counters")
            logger.info("daily aggregates are written every %s s", self.interval)

    async def stop(self) -> None:
        """Stop the background task and write what is left; later counts are written at once."""
        task, self._task = self._task, None
        self._running = False
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - shutdown goes on; the counts are statistics
            logger.error("daily aggregates: %d counter rows could not be written at shutdown", self.pending)
