"""Web chat: conversations, resumable generation, sharing and presets."""

from __future__ import annotations

from fastapi import FastAPI

from chatnio_host.context import AppContext

__all__ = ["setup"]


def setup(app: FastAPI, ctx: AppContext) -> None:
    """Add the chat routes and the generation manager (``ctx.services["chat"]``)."""
    from chatnio_host.chat import anonymous, presets, router, sharing
    from chatnio_host.chat.generation import GenerationManager

    manager = GenerationManager(ctx)
    ctx.services["chat"] = manager

    async def stop_generations(_ctx: AppContext) -> None:
        await manager.shutdown()

    ctx.shutdown_tasks.append(stop_generations)
    app.include_router(router.router)
    app.include_router(sharing.router)
    app.include_router(presets.router)
    app.include_router(anonymous.router)
