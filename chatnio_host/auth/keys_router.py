"""``/api/keys``: the signed-in user's relay API keys. A full key is returned only on create and roll."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatnio_host.auth import security
from chatnio_host.auth.deps import CurrentUser, JSONOnly
from chatnio_host.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyUpdate
from chatnio_host.auth.service import AuthService
from chatnio_host.db.models.auth import ApiKey
from chatnio_host.deps import CtxDep
from chatnio_host.errors import Conflict, InvalidRequest, NotFound

__all__ = ["MAX_KEYS_PER_USER", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/keys", tags=["auth"], dependencies=[JSONOnly])

MAX_KEYS_PER_USER = 50


def _service(ctx: CtxDep) -> AuthService:
    return ctx.services["auth"]


def _out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        masked_key=f"{security.API_KEY_PREFIX}...{key.last4}",
        enabled=key.enabled,
        expires_at=key.expires_at,
        allowed_models=key.allowed_models,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


def _created(key: ApiKey, secret: str) -> ApiKeyCreated:
    return ApiKeyCreated(**_out(key).model_dump(), key=secret)


@router.get("")
async def list_keys(user: CurrentUser, ctx: CtxDep) -> list[ApiKeyOut]:
    """List the user's keys, oldest first, without their secrets."""
    async with ctx.db.session() as session:
        keys = await session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id))
        return [_out(key) for key in keys]


@router.post("", status_code=201)
async def create_key(body: ApiKeyCreate, user: CurrentUser, ctx: CtxDep) -> ApiKeyCreated:
    """Create a key and return it in full, this once."""
    if body.expires_at is not None and body.expires_at <= ctx.clock.now():
        raise InvalidRequest("expires_at is in the past; give a future time or null.", param="expires_at")
    secret = security.generate_api_key()
    async with ctx.db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user.id))
        if (count or 0) >= MAX_KEYS_PER_USER:
            raise Conflict(f"You already have {MAX_KEYS_PER_USER} keys, the maximum. Delete one first.")
        key = ApiKey(
            user_id=user.id,
            name=body.name.strip(),
            key_hash=security.hash_api_key(secret),
            last4=secret[-4:],
            enabled=True,
            expires_at=body.expires_at,
            allowed_models=body.allowed_models,
        )
        session.add(key)
        await session.flush()
    logger.info("user %s created API key %s", user.id, key.id)
    return _created(key, secret)


async def _owned_key(session: AsyncSession, user_id: int, key_id: int) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or key.user_id != user_id:
        raise NotFound(f"API key {key_id} was not found among your keys.", param="id")
    return key


@router.post("/{key_id}/roll")
async def roll_key(key_id: int, user: CurrentUser, ctx: CtxDep) -> ApiKeyCreated:
    """Replace the key's secret; the old secret stops working at once."""
    secret = security.generate_api_key()
    async with ctx.db.transaction() as session:
        key = await _owned_key(session, user.id, key_id)
        old_hash = key.key_hash
        key.key_hash = security.hash_api_key(secret)
        key.last4 = secret[-4:]
    await _service(ctx).keys.forget(old_hash)
    logger.info("user %s rolled API key %s", user.id, key_id)
    return _created(key, secret)


@router.patch("/{key_id}")
async def update_key(key_id: int, body: ApiKeyUpdate, user: CurrentUser, ctx: CtxDep) -> ApiKeyOut:
    """Rename, enable or disable a key, or change its expiry or model allow-list."""
    changes = body.model_fields_set
    async with ctx.db.transaction() as session:
        key = await _owned_key(session, user.id, key_id)
        if "name" in changes and body.name is not None:
            key.name = body.name.strip()
        if "enabled" in changes and body.enabled is not None:
            key.enabled = body.enabled
        if "expires_at" in changes:
            key.expires_at = body.expires_at
        if "allowed_models" in changes:
            key.allowed_models = body.allowed_models
    await _service(ctx).keys.forget(key.key_hash)
    logger.info("user %s changed API key %s: %s", user.id, key_id, ", ".join(sorted(changes)) or "nothing")
    return _out(key)


@router.delete("/{key_id}", status_code=204)
async def delete_key(key_id: int, user: CurrentUser, ctx: CtxDep) -> Response:
    """Delete a key; it stops working at once."""
    async with ctx.db.transaction() as session:
        key = await _owned_key(session, user.id, key_id)
        key_hash = key.key_hash
        await session.delete(key)
    await _service(ctx).keys.forget(key_hash)
    logger.info("user %s deleted API key %s", user.id, key_id)
    return Response(status_code=204)
