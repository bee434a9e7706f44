"""FastAPI dependencies shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from chatnio_host.context import AppContext

__all__ = ["CtxDep", "SessionDep", "get_ctx", "get_session"]


def get_ctx(request: Request) -> AppContext:
    """Return the app's context."""
    return request.app.state.ctx


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a database session for one request."""
    async with get_ctx(request).db.session() as session:
        yield session


CtxDep = Annotated[AppContext, Depends(get_ctx)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
