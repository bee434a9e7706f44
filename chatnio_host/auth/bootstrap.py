"""The root admin: created at first start, and a warning at every start while its password is the default."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chatnio_host.auth import security
from chatnio_host.db.models.user import ROLE_ADMIN, User

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = ["DEFAULT_ROOT_PASSWORD", "ROOT_USERNAME", "ensure_root", "uses_default_password"]

logger = logging.getLogger(__name__)

ROOT_USERNAME = "root"
DEFAULT_ROOT_PASSWORD = "chatnio123456"
_DEFAULT_CHECK_PREFIX = "auth:root-default-password:"


async def uses_default_password(ctx: AppContext, user: User) -> bool:
    """Return whether ``user`` is root and still has the default password (cached per password hash)."""
    if user.username != ROOT_USERNAME:
        return False
    cache_key = _DEFAULT_CHECK_PREFIX + hashlib.sha256(user.password_hash.encode()).hexdigest()
    cached = await ctx.state.get(cache_key)
    if cached is not None:
        return cached == "1"
    result = security.verify_password(user.password_hash, DEFAULT_ROOT_PASSWORD)
    await ctx.state.set(cache_key, "1" if result else "0", ttl=86400)
    return result


async def ensure_root(ctx: AppContext) -> None:
    """Create ``root`` when missing, apply ``ROOT_PASSWORD`` over the default, and warn about the default."""
    configured = ctx.settings.root_password.get_secret_value() if ctx.settings.root_password else None
    password = configured or DEFAULT_ROOT_PASSWORD

    async with ctx.db.session() as session:
        root = await session.scalar(select(User).where(User.username == ROOT_USERNAME))
    if root is None:
        try:
            async with ctx.db.transaction() as session:
                root = await ctx.services["auth"].create_user(
                    session, username=ROOT_USERNAME, password=password, role=ROLE_ADMIN
                )
            logger.info("created the root admin (user %s)", root.id)
        except IntegrityError:
            # Another replica created it at the same moment.
            logger.info("the root admin was created by another replica")
            async with ctx.db.session() as session:
                root = await session.scalar(select(User).where(User.username == ROOT_USERNAME))
    if root is None:
        logger.error("the root admin could not be created or found")
        return

    if configured and configured != DEFAULT_ROOT_PASSWORD and await uses_default_password(ctx, root):
        async with ctx.db.transaction() as session:
            row = await session.get(User, root.id)
            if row is not None:
                row.password_hash = security.hash_password(configured)
                row.token_version += 1
                root = row
        await ctx.services["auth"].user_changed(root.id)
        logger.info("replaced root's default password with ROOT_PASSWORD")

    if await uses_default_password(ctx, root):
        logger.warning(
            "the root admin still uses the default password %r; sign in as root and change it, "
            "or set ROOT_PASSWORD",
            DEFAULT_ROOT_PASSWORD,
        )
