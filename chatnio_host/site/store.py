"""Typed site settings, one JSON document per section, cached per replica.

Every read compares the cached section's version with a counter in the shared state, so a change
made on one replica is seen by every other replica on its next read, without a restart.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select

from chatnio_host.db.models.site import SiteSetting
from chatnio_host.db.session import Database
from chatnio_host.state import SharedState

__all__ = ["SiteSettingsStore"]

logger = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)


class SiteSettingsStore:
    """Read and write site settings sections as pydantic models."""

    def __init__(self, db: Database, state: SharedState) -> None:
        self.db = db
        self.state = state
        self._cache: dict[str, tuple[str | None, dict[str, Any]]] = {}

    @staticmethod
    def _version_key(section: str) -> str:
        return f"site-settings:version:{section}"

    async def get_raw(self, section: str) -> dict[str, Any]:
        """Return the stored JSON of ``section`` (an empty dict when never saved)."""
        version = await self.state.get(self._version_key(section))
        cached = self._cache.get(section)
        if cached is not None and cached[0] == version:
            return cached[1]
        async with self.db.session() as session:
            row = await session.scalar(select(SiteSetting).where(SiteSetting.section == section))
        value = dict(row.value) if row is not None else {}
        self._cache[section] = (version, value)
        return value

    async def get(self, section: str, model: type[Model]) -> Model:
        """Return ``section`` as ``model``, with defaults for fields never saved."""
        return model.model_validate(await self.get_raw(section))

    async def put(self, section: str, value: BaseModel | dict[str, Any], *, actor_id: int | None = None) -> None:
        """Store ``section`` and tell every replica to drop its cached copy."""
        data = value.model_dump(mode="json") if isinstance(value, BaseModel) else dict(value)
        async with self.db.transaction() as session:
            row = await session.get(SiteSetting, section)
            if row is None:
                session.add(SiteSetting(section=section, value=data))
            else:
                row.value = data
                row.version = row.version + 1
        await self.state.incr(self._version_key(section))
        self._cache.pop(section, None)
        logger.info("site settings section %s changed by user %s", section, actor_id)
