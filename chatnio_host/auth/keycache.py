"""API key lookups cached in the shared state, so every replica applies a change on its next request.

An entry holds the key's own fields and a snapshot of its owner. Every change to a key or to
its owner (ban, role, level, deletion) deletes the entries involved.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from sqlalchemy import select

from chatnio_host.db.models.auth import ApiKey
from chatnio_host.db.models.user import User
from chatnio_host.db.session import Database
from chatnio_host.state import SharedState

__all__ = ["CachedKey", "KeyCache"]

logger = logging.getLogger(__name__)

_PREFIX = "auth:api-key:"
_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class CachedKey:
    """A cached key: its own fields and a snapshot of its owner."""

    key_id: int
    name: str
    enabled: bool
    expires_at: dt.datetime | None
    allowed_models: list[str] | None
    user: User

    def to_json(self) -> str:
        return json.dumps(
            {
                "key_id": self.key_id,
                "name": self.name,
                "enabled": self.enabled,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "allowed_models": self.allowed_models,
                "user": {
                    "id": self.user.id,
                    "username": self.user.username,
                    "email": self.user.email,
                    "role": self.user.role,
                    "level": self.user.level,
                    "banned": self.user.banned,
                    "token_version": self.user.token_version,
                },
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> CachedKey:
        data = json.loads(raw)
        expires = data["expires_at"]
        return cls(
            key_id=data["key_id"],
            name=data["name"],
            enabled=data["enabled"],
            expires_at=dt.datetime.fromisoformat(expires) if expires else None,
            allowed_models=data["allowed_models"],
            user=User(**data["user"]),
        )


class KeyCache:
    """Look up keys by hash: the shared state first, then the database."""

    def __init__(self, db: Database, state: SharedState) -> None:
        self.db = db
        self.state = state

    async def lookup(self, key_hash: str) -> CachedKey | None:
        """Return the key with this hash and its owner, or None when no such key exists."""
        raw = await self.state.get(_PREFIX + key_hash)
        if raw is not None:
            try:
                return CachedKey.from_json(raw)
            except (ValueError, KeyError, TypeError):
                logger.error("dropping unreadable API key cache entry for key hash ...%s", key_hash[-6:])
                await self.state.delete(_PREFIX + key_hash)

        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.key_hash == key_hash)
                )
            ).first()
        if row is None:
            return None
        key, user = row
        entry = CachedKey(
            key_id=key.id,
            name=key.name,
            enabled=key.enabled,
            expires_at=key.expires_at,
            allowed_models=list(key.allowed_models) if key.allowed_models is not None else None,
            user=user,
        )
        await self.state.set(_PREFIX + key_hash, entry.to_json(), ttl=_TTL_SECONDS)
        return entry

    async def forget(self, *key_hashes: str) -> None:
        """Delete the cached entries of these keys."""
        if key_hashes:
            await self.state.delete(*(_PREFIX + key_hash for key_hash in key_hashes))

    async def forget_user(self, user_id: int) -> None:
        """Delete the cached entries of every key of ``user_id``; call it after the change commits."""
        async with self.db.session() as session:
            hashes = list(await session.scalars(select(ApiKey.key_hash).where(ApiKey.user_id == user_id)))
        await self.forget(*hashes)
        logger.info("dropped %d cached API keys of user %s", len(hashes), user_id)
