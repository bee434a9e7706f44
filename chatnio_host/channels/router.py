"""Admin API of channels under ``/api/admin/channels`` and the ``channels`` settings section."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from chatnio_host.auth.deps import AdminUser, require_json
from chatnio_host.channels.manage import ChannelManager
from chatnio_host.channels.probe import ChannelProbe
from chatnio_host.channels.schemas import (
    ChannelCreate,
    ChannelOut,
    ChannelTestIn,
    ChannelTestOut,
    ChannelTypeOut,
    ChannelUpdate,
    ModelsFetchIn,
    ModelsFetchOut,
    ModelsTemplateIn,
    UpstreamModelsIn,
    UpstreamModelsOut,
)
from chatnio_host.channels.settings import CHANNELS_SECTION, ChannelSettings

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/admin", tags=["channels"], dependencies=[Depends(require_json)])


def _manager(request: Request) -> ChannelManager:
    return request.app.state.ctx.services["channels"].manager


def _probe(request: Request) -> ChannelProbe:
    return request.app.state.ctx.services["channels"].probe


Manager = Annotated[ChannelManager, Depends(_manager)]
Probe = Annotated[ChannelProbe, Depends(_probe)]


@router.get("/channel-types", response_model=list[ChannelTypeOut])
async def list_channel_types(admin: AdminUser, manager: Manager) -> list[ChannelTypeOut]:
    """List the registered channel types with their settings schema and template models."""
    return manager.list_types()


@router.get("/channels", response_model=list[ChannelOut])
async def list_channels(admin: AdminUser, manager: Manager) -> list[ChannelOut]:
    """List every channel, highest priority first; keys are masked."""
    return await manager.list_channels()


@router.post("/channels", response_model=ChannelOut, status_code=201)
async def create_channel(body: ChannelCreate, admin: AdminUser, manager: Manager) -> ChannelOut:
    """Create a channel."""
    return await manager.create(body, actor_id=admin.id)


@router.post("/channels/upstream-models", response_model=UpstreamModelsOut)
async def preview_upstream_models(body: UpstreamModelsIn, admin: AdminUser, probe: Probe) -> UpstreamModelsOut:
    """List an upstream's models with a type, endpoint and key before the channel is saved."""
    return await probe.preview_models(body, actor_id=admin.id)


@router.get("/channels/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: int, admin: AdminUser, manager: Manager) -> ChannelOut:
    """Return one channel; keys are masked."""
    return await manager.get(channel_id)


@router.put("/channels/{channel_id}", response_model=ChannelOut)
async def update_channel(channel_id: int, body: ChannelUpdate, admin: AdminUser, manager: Manager) -> ChannelOut:
    """Change a channel; fields left out keep their value, masked key lines keep their key."""
    return await manager.update(channel_id, body, actor_id=admin.id)


@router.delete("/channels/{channel_id}", status_code=204)
async def delete_channel(channel_id: int, admin: AdminUser, manager: Manager) -> Response:
    """Delete a channel and its keys."""
    await manager.delete(channel_id, actor_id=admin.id)
    return Response(status_code=204)


@router.post("/channels/{channel_id}/enable", response_model=ChannelOut)
async def enable_channel(channel_id: int, admin: AdminUser, manager: Manager) -> ChannelOut:
    """Enable a channel."""
    return await manager.set_enabled(channel_id, True, actor_id=admin.id)


@router.post("/channels/{channel_id}/disable", response_model=ChannelOut)
async def disable_channel(channel_id: int, admin: AdminUser, manager: Manager) -> ChannelOut:
    """Disable a channel; the relay stops using it on the next request."""
    return await manager.set_enabled(channel_id, False, actor_id=admin.id)


@router.post("/channels/{channel_id}/keys/{index}/enable", response_model=ChannelOut)
async def enable_channel_key(channel_id: int, index: int, admin: AdminUser, manager: Manager) -> ChannelOut:
    """Enable one key (numbered from 0) and clear its error and cooldown."""
    return await manager.set_key_enabled(channel_id, index, True, actor_id=admin.id)


@router.post("/channels/{channel_id}/keys/{index}/disable", response_model=ChannelOut)
async def disable_channel_key(channel_id: int, index: int, admin: AdminUser, manager: Manager) -> ChannelOut:
    """Disable one key (numbered from 0)."""
    return await manager.set_key_enabled(channel_id, index, False, actor_id=admin.id)


@router.post("/channels/{channel_id}/test", response_model=ChannelTestOut)
async def test_channel(
    channel_id: int,
    admin: AdminUser,
    probe: Probe,
    body: Annotated[ChannelTestIn | None, Body()] = None,
) -> ChannelTestOut:
    """Send one small chat request; store latency and result; enable disabled keys that pass."""
    return await probe.test(channel_id, body.model if body else None, actor_id=admin.id)


@router.post("/channels/{channel_id}/models/fetch", response_model=ModelsFetchOut)
async def fetch_channel_models(
    channel_id: int,
    admin: AdminUser,
    probe: Probe,
    body: Annotated[ModelsFetchIn | None, Body()] = None,
) -> ModelsFetchOut:
    """Fill the model list from the upstream's model list (replace, merge or preview)."""
    return await probe.fetch_models(channel_id, mode=body.mode if body else "replace", actor_id=admin.id)


@router.post("/channels/{channel_id}/models/template", response_model=ChannelOut)
async def apply_template_models(
    channel_id: int,
    admin: AdminUser,
    manager: Manager,
    body: Annotated[ModelsTemplateIn | None, Body()] = None,
) -> ChannelOut:
    """Fill the model list from the channel type's template models."""
    return await manager.template_models(channel_id, mode=body.mode if body else "replace")


@router.delete("/channels/{channel_id}/models", response_model=ChannelOut)
async def clear_channel_models(channel_id: int, admin: AdminUser, manager: Manager) -> ChannelOut:
    """Empty the channel's model list."""
    return await manager.set_models(channel_id, [], mode="replace")


@router.get("/settings/channels", response_model=ChannelSettings)
async def get_channel_settings(admin: AdminUser, request: Request) -> ChannelSettings:
    """Return the channel scheduling settings."""
    return await request.app.state.ctx.site.get(CHANNELS_SECTION, ChannelSettings)


@router.put("/settings/channels", response_model=ChannelSettings)
async def put_channel_settings(body: ChannelSettings, admin: AdminUser, request: Request) -> ChannelSettings:
    """Replace the channel scheduling settings; every replica applies them on its next request."""
    await request.app.state.ctx.site.put(CHANNELS_SECTION, body, actor_id=admin.id)
    return body
