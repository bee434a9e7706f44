"""Admin operations on channels: list, create, update, delete, enable, keys and model lists."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from chatnio_host.channels.crypto import mask_key
from chatnio_host.channels.mapping import hit_models, normalize_mapping_text, parse_mapping
from chatnio_host.channels.schemas import (
    ChannelCreate,
    ChannelKeyOut,
    ChannelOut,
    ChannelTestResult,
    ChannelTypeOut,
    ChannelUpdate,
)
from chatnio_host.channels.service import cooldown_key
from chatnio_host.channels.validation import (
    channel_type_for,
    check_groups,
    check_settings,
    keep_masked_settings,
    mask_proxy,
    mask_settings,
    normalize_endpoint,
    normalize_models,
    normalize_proxy,
    split_keys,
)
from chatnio_host.db.models.channel import Channel, ChannelKey
from chatnio_host.errors import ConfigError, InvalidRequest, NotFound
from chatnio_host.registry import ChannelType

if TYPE_CHECKING:
    from chatnio_host.channels.service import ChannelService
    from chatnio_host.context import AppContext

__all__ = ["ChannelManager"]

logger = logging.getLogger(__name__)


class ChannelManager:
    """Change channels in the database and tell every replica to reload them."""

    def __init__(self, ctx: AppContext, service: ChannelService) -> None:
        self.ctx = ctx
        self.service = service

    # --- reading ----------------------------------------------------------------------------

    @property
    def types(self) -> dict[str, ChannelType]:
        """Registered channel types by name."""
        return self.ctx.plugins.registry.channel_types

    def list_types(self) -> list[ChannelTypeOut]:
        """Return every registered channel type with its schema and template models."""
        return [
            ChannelTypeOut(
                name=item.name,
                label=item.label or item.name,
                description=item.description,
                default_endpoint=item.default_endpoint,
                template_models=list(item.template_models),
                settings_schema=dict(item.settings_schema),
            )
            for item in sorted(self.types.values(), key=lambda item: item.name)
        ]

    async def load(self, session: AsyncSession, channel_id: int) -> Channel:
        """Return the channel row with its keys, or raise 404."""
        row = await session.scalar(
            select(Channel).where(Channel.id == channel_id).options(selectinload(Channel.keys))
        )
        if row is None:
            raise NotFound(f"Channel {channel_id} does not exist.", param="id", code="channel_not_found")
        return row

    async def list_channels(self) -> list[ChannelOut]:
        """Return every channel, highest priority first."""
        async with self.ctx.db.session() as session:
            rows = (
                await session.scalars(
                    select(Channel).options(selectinload(Channel.keys)).order_by(Channel.priority.desc(), Channel.id)
                )
            ).all()
        return [await self.to_out(row) for row in rows]

    async def get(self, channel_id: int) -> ChannelOut:
        """Return one channel."""
        async with self.ctx.db.session() as session:
            row = await self.load(session, channel_id)
        return await self.to_out(row)

    def key_value(self, key: ChannelKey) -> str:
        """Return the decrypted value of ``key``, or an empty string when it cannot be read."""
        try:
            return self.service.cipher.decrypt(key.secret)
        except ConfigError:
            logger.error("channel %s key #%s cannot be decrypted", key.channel_id, key.position)
            return ""

    async def to_out(self, row: Channel) -> ChannelOut:
        """Return the admin view of ``row``: keys masked, proxy password hidden."""
        now = time.time()
        keys: list[ChannelKeyOut] = []
        for key in row.keys:
            cooling = await self.ctx.state.get(cooldown_key(key.id))
            keys.append(
                ChannelKeyOut(
                    index=key.position,
                    masked=mask_key(self.key_value(key)),
                    enabled=key.enabled,
                    cooling_down=cooling is not None and float(cooling) > now,
                    cooldown_until=key.cooldown_until,
                    last_error=key.last_error,
                    last_error_at=key.last_error_at,
                )
            )
        mapping = parse_mapping(row.mapping)
        return ChannelOut(
            id=row.id,
            name=row.name,
            type=row.type,
            endpoint=row.endpoint,
            keys=keys,
            models=list(row.models or []),
            mapping=row.mapping or "",
            served_models=hit_models(row.models or [], mapping),
            priority=row.priority,
            weight=row.weight,
            retry=row.retry,
            groups=list(row.groups or []),
            enabled=row.enabled,
            proxy=mask_proxy(row.proxy),
            settings=mask_settings(dict(row.settings or {}), self.types.get(row.type)),
            last_test=ChannelTestResult(
                at=row.last_test_at,
                ok=row.last_test_ok,
                latency_ms=row.last_test_latency_ms,
                message=row.last_test_message,
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    # --- writing ----------------------------------------------------------------------------

    async def create(self, body: ChannelCreate, *, actor_id: int | None = None) -> ChannelOut:
        """Validate and save a new channel."""
        channel_type = channel_type_for(self.types, body.type.strip())
        keys = split_keys(body.keys)
        if not keys:
            raise InvalidRequest(
                "keys is empty: enter at least one vendor key, one per line (any placeholder such as "
                "'none' for a vendor that needs no key).",
                param="keys",
            )
        for key in keys:
            _reject_masked(key)

        row = Channel(
            name=body.name.strip(),
            type=channel_type.name,
            endpoint=normalize_endpoint(body.endpoint, channel_type),
            models=normalize_models(body.models or []),
            mapping=normalize_mapping_text(body.mapping),
            priority=body.priority if body.priority is not None else 0,
            weight=body.weight if body.weight is not None else 1,
            retry=body.retry if body.retry is not None else 1,
            groups=check_groups(body.groups or []),
            enabled=body.enabled if body.enabled is not None else True,
            proxy=normalize_proxy(body.proxy),
            settings=check_settings(body.settings or {}, channel_type),
        )
        _check_name(row.name)
        row.keys = [
            ChannelKey(position=index, secret=self.service.cipher.encrypt(key), enabled=True)
            for index, key in enumerate(keys)
        ]
        async with self.ctx.db.transaction() as session:
            session.add(row)
        await self.service.invalidate()
        logger.info("channel %s (%s) created by user %s with %d keys", row.id, row.type, actor_id, len(keys))
        return await self.get(row.id)

    async def update(self, channel_id: int, body: ChannelUpdate, *, actor_id: int | None = None) -> ChannelOut:
        """Apply the fields given in ``body``; keys matched by value or mask keep their state."""
        fields = body.model_fields_set
        async with self.ctx.db.transaction() as session:
            row = await self.load(session, channel_id)
            type_name = body.type.strip() if "type" in fields and body.type else row.type
            channel_type = channel_type_for(self.types, type_name)
            row.type = channel_type.name

            if "name" in fields and body.name is not None:
                row.name = body.name.strip()
                _check_name(row.name)
            if "endpoint" in fields or "type" in fields:
                row.endpoint = normalize_endpoint(body.endpoint if "endpoint" in fields else row.endpoint, channel_type)
            if "models" in fields:
                row.models = normalize_models(body.models or [])
            if "mapping" in fields:
                row.mapping = normalize_mapping_text(body.mapping)
            for name in ("priority", "weight", "retry", "enabled"):
                value = getattr(body, name)
                if name in fields and value is not None:
                    setattr(row, name, value)
            if "groups" in fields:
                row.groups = check_groups(body.groups or [])
            if "proxy" in fields:
                row.proxy = self._proxy_after_update(row.proxy, body.proxy)
            if "settings" in fields or "type" in fields:
                stored = dict(row.settings or {})
                settings = body.settings if "settings" in fields and body.settings is not None else stored
                settings = keep_masked_settings(dict(settings), stored, channel_type)
                row.settings = check_settings(settings, channel_type)
            if "keys" in fields and body.keys is not None:
                self._replace_keys(row, split_keys(body.keys))
        await self.service.invalidate()
        logger.info("channel %s updated by user %s (fields: %s)", channel_id, actor_id, ", ".join(sorted(fields)))
        return await self.get(channel_id)

    @staticmethod
    def _proxy_after_update(current: str | None, given: str | None) -> str | None:
        if given is not None and current is not None and given.strip() == mask_proxy(current):
            return current
        return normalize_proxy(given)

    def _replace_keys(self, row: Channel, keys: list[str]) -> None:
        if not keys:
            raise InvalidRequest(
                "keys is empty: a channel needs at least one vendor key; disable the channel instead.",
                param="keys",
            )
        existing = [(key, self.key_value(key)) for key in row.keys]
        kept: list[ChannelKey] = []
        for position, line in enumerate(keys):
            match = next((key for key, value in existing if value == line and key not in kept), None)
            if match is None and line.startswith("****"):
                masked = [key for key, value in existing if mask_key(value) == line and key not in kept]
                if len(masked) != 1:
                    raise InvalidRequest(
                        f"Key line {position + 1} {line!r} is masked but matches "
                        f"{'no saved key' if not masked else 'several saved keys'}; paste the full key.",
                        param="keys",
                    )
                match = masked[0]
            if match is None:
                match = ChannelKey(position=position, secret=self.service.cipher.encrypt(line), enabled=True)
            match.position = position
            kept.append(match)
        row.keys = kept

    async def delete(self, channel_id: int, *, actor_id: int | None = None) -> None:
        """Delete a channel and its keys."""
        async with self.ctx.db.transaction() as session:
            row = await self.load(session, channel_id)
            key_ids = [key.id for key in row.keys]
            await session.delete(row)
        if key_ids:
            await self.ctx.state.delete(*(cooldown_key(key_id) for key_id in key_ids))
        await self.service.invalidate()
        logger.info("channel %s deleted by user %s", channel_id, actor_id)

    async def set_enabled(self, channel_id: int, enabled: bool, *, actor_id: int | None = None) -> ChannelOut:
        """Enable or disable a channel."""
        async with self.ctx.db.transaction() as session:
            row = await self.load(session, channel_id)
            row.enabled = enabled
        await self.service.invalidate()
        logger.info("channel %s %s by user %s", channel_id, "enabled" if enabled else "disabled", actor_id)
        return await self.get(channel_id)

    async def set_key_enabled(
        self, channel_id: int, index: int, enabled: bool, *, actor_id: int | None = None
    ) -> ChannelOut:
        """Enable or disable one key of a channel by its index."""
        async with self.ctx.db.transaction() as session:
            row = await self.load(session, channel_id)
            key = next((key for key in row.keys if key.position == index), None)
            if key is None:
                raise NotFound(
                    f"Channel {channel_id} has no key #{index}; keys are numbered from 0 to {len(row.keys) - 1}.",
                    param="index",
                )
            key.enabled = enabled
            if enabled:
                key.last_error = None
                key.last_error_at = None
                key.cooldown_until = None
        if enabled:
            await self.ctx.state.delete(cooldown_key(key.id))
        await self.service.invalidate()
        logger.info(
            "channel %s key #%s %s by user %s", channel_id, index, "enabled" if enabled else "disabled", actor_id
        )
        return await self.get(channel_id)

    async def set_models(self, channel_id: int, models: list[str], *, mode: str = "replace") -> ChannelOut:
        """Replace the channel's models, or merge ``models`` into them."""
        async with self.ctx.db.transaction() as session:
            row = await self.load(session, channel_id)
            current = list(row.models or [])
            if mode == "merge":
                row.models = current + [model for model in normalize_models(models) if model not in current]
            else:
                row.models = normalize_models(models)
        await self.service.invalidate()
        logger.info("channel %s models set (%s, %d models)", channel_id, mode, len(row.models))
        return await self.get(channel_id)

    async def template_models(self, channel_id: int, *, mode: str = "replace") -> ChannelOut:
        """Fill the channel's models from its type's template models."""
        async with self.ctx.db.session() as session:
            row = await self.load(session, channel_id)
        channel_type = channel_type_for(self.types, row.type)
        return await self.set_models(channel_id, list(channel_type.template_models), mode=mode)


def _check_name(name: str) -> None:
    if not name:
        raise InvalidRequest("name is empty; give the channel a display name.", param="name")


def _reject_masked(key: str) -> None:
    if key.startswith("****"):
        raise InvalidRequest(
            f"Key {key!r} is masked; paste the full vendor key.", param="keys"
        )

