"""Snapshots of users' subscription rows, cached in the shared state for the request path.

Every relayed request needs the caller's subscription level (for its group) and, when a plan
may cover the model, the period anchor. A snapshot is one shared-state read instead of a
database query.

Billing makes every change to a subscription row, and after each commit it marks the user's
entry dirty with a random value. A reader that loaded the row stores its snapshot with a
compare-and-set against the value it saw. So a snapshot read before a change never replaces
the mark of that change. Entries expire after ``TTL_SECONDS``, which also bounds how long a
row changed outside billing (by hand, in SQL) is served stale.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from dataclasses import dataclass

from chatnio_host.db.models.billing import Subscription
from chatnio_host.db.session import Database
from chatnio_host.state import SharedState

__all__ = ["SubscriptionCache", "SubscriptionSnapshot"]

logger = logging.getLogger(__name__)

TTL_SECONDS = 300.0
DIRTY = "dirty:"


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """The fields of a subscription row that admission and the caller's group read."""

    level: int
    started_at: dt.datetime
    expires_at: dt.datetime

    def active(self, now: dt.datetime) -> bool:
        """Return whether the subscription covers requests at ``now``."""
        return self.level > 0 and self.expires_at > now

    def to_json(self) -> str:
        return json.dumps({"level": self.level, "started_at": self.started_at.isoformat(), "expires_at": self.expires_at.isoformat()})

    @classmethod
    def from_json(cls, raw: str) -> SubscriptionSnapshot | None:
        data = json.loads(raw)
        if data is None:
            return None
        return cls(
            level=int(data["level"]),
            started_at=dt.datetime.fromisoformat(data["started_at"]),
            expires_at=dt.datetime.fromisoformat(data["expires_at"]),
        )


class SubscriptionCache:
    """Subscription snapshots by user id, read through from the database."""

    def __init__(self, db: Database, state: SharedState) -> None:
        self.db = db
        self.state = state

    @staticmethod
    def _key(user_id: int) -> str:
        return f"billing:subscription:{user_id}"

    async def get(self, user_id: int) -> SubscriptionSnapshot | None:
        """Return the user's subscription snapshot, or None when the user has no row."""
        key = self._key(user_id)
        seen = await self.state.get(key)
        if seen is not None and not seen.startswith(DIRTY):
            return SubscriptionSnapshot.from_json(seen)
        async with self.db.session() as session:
            row = await session.get(Subscription, user_id)
            snapshot = None if row is None else SubscriptionSnapshot(row.level, row.started_at, row.expires_at)
        value = "null" if snapshot is None else snapshot.to_json()
        await self.state.compare_and_set(key, seen, value, ttl=TTL_SECONDS)
        return snapshot

    async def changed(self, user_id: int) -> None:
        """Mark the user's snapshot dirty; call it after a change to the row commits."""
        await self.state.set(self._key(user_id), DIRTY + secrets.token_hex(8), ttl=TTL_SECONDS)
