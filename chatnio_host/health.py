"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from chatnio_host.context import AppContext
from chatnio_host.db import migrate
from chatnio_host.deps import CtxDep

__all__ = ["router", "setup"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Answer 200 while the process is alive."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(ctx: CtxDep) -> JSONResponse:
    """Answer 200 when the database and shared state are reachable and the schema is current."""
    checks: dict[str, str] = {}
    try:
        await ctx.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any driver error means "not ready"
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
    try:
        await ctx.state.ping()
        checks["state"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any client error means "not ready"
        logger.warning("readiness: shared state unreachable: %s", type(exc).__name__)
        checks["state"] = "unreachable"
    if checks["database"] == "ok":
        try:
            current = await migrate.current_revision(ctx.db.engine)
            checks["schema"] = "ok" if current == migrate.head_revision() else "behind"
        except Exception as exc:  # noqa: BLE001 - treat as not ready
            logger.warning("readiness: schema check failed: %s", type(exc).__name__)
            checks["schema"] = "unknown"
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


def setup(app: FastAPI, ctx: AppContext) -> None:
    """Add the probes."""
    app.include_router(router)
