"""Presets (masks): the caller's own, plus built-in ones shipped with the host."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from chatnio_host.auth.deps import CurrentUser, JSONOnly
from chatnio_host.chat.schemas import PresetCreate, PresetPublic, PresetUpdate
from chatnio_host.db.models.chat import Preset
from chatnio_host.deps import CtxDep
from chatnio_host.errors import InvalidRequest, NotFound

__all__ = ["builtin_presets", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["presets"], dependencies=[JSONOnly])

BUILTIN_FILE = Path(__file__).with_name("data") / "builtin_presets.json"
LANGUAGES = ("en", "zh-CN")
CONTEXT_ROLES = ("system", "user", "assistant")


@lru_cache(maxsize=1)
def _builtin_raw() -> list[dict[str, Any]]:
    return json.loads(BUILTIN_FILE.read_text(encoding="utf-8"))


def builtin_presets(language: str) -> list[PresetPublic]:
    """Return the built-in presets in ``language`` (English when it is not offered)."""
    lang = language if language in LANGUAGES else "en"
    return [
        PresetPublic(
            id=f"builtin:{item['id']}", name=item["name"][lang], avatar=item["avatar"],
            description=item["description"][lang], context=item["context"][lang], model=None,
            parameters={}, builtin=True,
        )
        for item in _builtin_raw()
    ]


def _check_context(context: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned = []
    for index, item in enumerate(context):
        role = item.get("role")
        text = item.get("content")
        if role not in CONTEXT_ROLES or not isinstance(text, str):
            raise InvalidRequest(
                f"context[{index}] needs a role of {', '.join(CONTEXT_ROLES)} and a string content.",
                param=f"context.{index}",
            )
        cleaned.append({"role": role, "content": text})
    return cleaned


def _public(preset: Preset) -> PresetPublic:
    return PresetPublic(
        id=preset.id, name=preset.name, avatar=preset.avatar, description=preset.description,
        context=preset.context, model=preset.model, parameters=preset.parameters,
    )


async def _owned(ctx: CtxDep, session: Any, user_id: int, preset_id: int) -> Preset:
    preset = await session.scalar(select(Preset).where(Preset.id == preset_id, Preset.user_id == user_id))
    if preset is None:
        raise NotFound(f"Preset {preset_id} was not found.", param="preset_id")
    return preset


@router.get("/presets", response_model=list[PresetPublic])
async def read_presets(
    ctx: CtxDep, user: CurrentUser, lang: Annotated[str, Query(max_length=10)] = "en"
) -> list[PresetPublic]:
    """List the caller's presets, newest first, followed by the built-in ones."""
    async with ctx.db.session() as session:
        rows = await session.scalars(select(Preset).where(Preset.user_id == user.id).order_by(Preset.id.desc()))
        own = [_public(row) for row in rows]
    return own + builtin_presets(lang)


@router.post("/presets", response_model=PresetPublic, status_code=201)
async def create_preset(ctx: CtxDep, user: CurrentUser, body: PresetCreate) -> PresetPublic:
    """Create a preset."""
    async with ctx.db.transaction() as session:
        preset = Preset(user_id=user.id, name=body.name, avatar=body.avatar, description=body.description,
                        context=_check_context(body.context), model=body.model, parameters=body.parameters)
        session.add(preset)
        await session.flush()
        return _public(preset)


@router.patch("/presets/{preset_id}", response_model=PresetPublic)
async def update_preset(ctx: CtxDep, user: CurrentUser, preset_id: int, body: PresetUpdate) -> PresetPublic:
    """Change one of the caller's presets."""
    async with ctx.db.transaction() as session:
        preset = await _owned(ctx, session, user.id, preset_id)
        changes = body.model_dump(exclude_unset=True)
        if "context" in changes and changes["context"] is not None:
            changes["context"] = _check_context(changes["context"])
        for name, value in changes.items():
            if value is not None or name == "model":
                setattr(preset, name, value)
        await session.flush()
        return _public(preset)


@router.delete("/presets/{preset_id}", status_code=204)
async def delete_preset(ctx: CtxDep, user: CurrentUser, preset_id: int) -> None:
    """Delete one of the caller's presets."""
    async with ctx.db.transaction() as session:
        await session.delete(await _owned(ctx, session, user.id, preset_id))


@router.post("/presets/{preset_id}/clone", response_model=PresetPublic, status_code=201)
async def clone_preset(
    ctx: CtxDep, user: CurrentUser, preset_id: str, lang: Annotated[str, Query(max_length=10)] = "en"
) -> PresetPublic:
    """Copy one of the caller's presets or a built-in one (``builtin:<name>``) into a new preset."""
    if preset_id.startswith("builtin:"):
        source = next((item for item in builtin_presets(lang) if item.id == preset_id), None)
        if source is None:
            raise NotFound(f"Preset {preset_id} was not found.", param="preset_id")
        values = source.model_dump(exclude={"id", "builtin"})
    else:
        if not preset_id.isdigit():
            raise InvalidRequest("A preset id is a number or builtin:<name>.", param="preset_id")
        async with ctx.db.session() as session:
            values = _public(await _owned(ctx, session, user.id, int(preset_id))).model_dump(exclude={"id", "builtin"})
    async with ctx.db.transaction() as session:
        clone = Preset(user_id=user.id, **values)
        session.add(clone)
        await session.flush()
        return _public(clone)
