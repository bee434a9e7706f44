"""The one clock the host reads, so tests can move time."""

from __future__ import annotations

import datetime as dt

__all__ = ["Clock", "FixedClock"]


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> dt.datetime:
        """Return the current time as an aware UTC datetime."""
        return dt.datetime.now(dt.UTC)


class FixedClock(Clock):
    """A clock that stays where a test puts it."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.current = start

    def now(self) -> dt.datetime:
        return self.current

    def set(self, value: dt.datetime) -> None:
        """Move the clock to ``value``."""
        self.current = value

    def advance(self, **delta: float) -> None:
        """Move the clock forward by ``datetime.timedelta(**delta)``."""
        self.current = self.current + dt.timedelta(**delta)
