"""``AuthService`` (``ctx.services["auth"]``): users, session tokens and the relay's API key callers."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from chatnio_host.auth import security
from chatnio_host.auth.caller import Caller, caller_group, resolve_level
from chatnio_host.auth.clientip import client_ip
from chatnio_host.auth.keycache import KeyCache
from chatnio_host.auth.ratelimit import RateLimiter
from chatnio_host.auth.settings import AUTH_SECTION, MAIL_SECTION, AuthSettings, MailSettings
from chatnio_host.db.models.auth import ApiKey
from chatnio_host.db.models.user import ROLE_USER, User
from chatnio_host.errors import APIError, AuthenticationFailed, PermissionDenied, RateLimited

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = ["AuthService", "BANNED_MESSAGE"]

logger = logging.getLogger(__name__)

BANNED_MESSAGE = "This account is banned. Contact the site administrator."
_REVOKED_PREFIX = "auth:revoked-token:"
_KEY_USED_PREFIX = "auth:api-key-used:"
_KEY_USED_INTERVAL = 300.0
"""Seconds between two writes of an API key's ``last_used_at``."""


def banned_error() -> PermissionDenied:
    """Return the error every surface raises for a banned user."""
    return PermissionDenied(BANNED_MESSAGE, code="account_banned")


class AuthService:
    """Users, session tokens and API key callers of one app."""

    def _key_use_due(self, key_id: int) -> bool:
        """Return whether this process has not checked ``key_id``'s last-use mark for an interval.

        The shared mark decides across replicas; this local memo keeps the relay from asking the
        shared state on every request.
        """
        now = time.monotonic()
        if now - self._key_use_checked.get(key_id, -_KEY_USED_INTERVAL) < _KEY_USED_INTERVAL:
            return False
        if len(self._key_use_checked) > 100_000:
            self._key_use_checked.clear()
        self._key_use_checked[key_id] = now
        return True

    def __init__(self, ctx: AppContext) -> None:
        self._key_use_checked: dict[int, float] = {}
        self.ctx = ctx
        self.limiter = RateLimiter(ctx.state)
        self.keys = KeyCache(ctx.db, ctx.state)
        self._background: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], description: str) -> None:
        """Run ``work`` in the background; its errors are logged, and shutdown waits for it."""

        async def guarded() -> None:
            try:
                await work
            except APIError as exc:
                logger.error("background %s failed: %s", description, exc.message)
            except (SQLAlchemyError, OSError) as exc:
                logger.error("background %s failed: %s", description, exc)

        task = asyncio.create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _record_key_use(self, key_id: int) -> None:
        async with self.ctx.db.transaction() as session:
            await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=self.ctx.clock.now()))

    async def drain(self) -> None:
        """Wait for background work such as mails still being sent."""
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def auth_settings(self) -> AuthSettings:
        """Return the ``auth`` site settings section."""
        return await self.ctx.site.get(AUTH_SECTION, AuthSettings)

    async def mail_settings(self) -> MailSettings:
        """Return the ``mail`` site settings section (with the SMTP password)."""
        return await self.ctx.site.get(MAIL_SECTION, MailSettings)

    def client_ip(self, request: Request) -> str:
        """Return the client IP, reading ``X-Forwarded-For`` only from ``trusted_proxies``."""
        return client_ip(request, self.ctx.settings.trusted_proxies)

    # Users

    async def get_user(self, user_id: int) -> User | None:
        """Return the user with this id, detached from any session, or None."""
        async with self.ctx.db.session() as session:
            return await session.get(User, user_id)

    async def find_user_for_login(self, session: AsyncSession, login: str) -> User | None:
        """Return the user whose username or email (case-insensitive) is ``login``."""
        login = login.strip()
        return await session.scalar(
            select(User).where(or_(User.username == login, func.lower(User.email) == login.lower())).limit(1)
        )

    async def create_user(
        self,
        session: AsyncSession,
        *,
        username: str,
        password: str,
        email: str | None = None,
        role: str = ROLE_USER,
        level: int = 0,
    ) -> User:
        """Insert a user in the caller's transaction and grant billing's initial points."""
        user = User(
            username=username,
            email=email.lower() if email else None,
            password_hash=security.hash_password(password),
            role=role,
            level=level,
            banned=False,
            token_version=0,
        )
        session.add(user)
        await session.flush()

        billing = self.ctx.services.get("billing")
        if billing is not None and hasattr(billing, "grant_initial_points"):
            await billing.grant_initial_points(session, user.id)
        logger.info("created user %s (%s, role %s)", user.id, username, role)
        return user

    # Session tokens

    async def issue_token(self, user: User) -> str:
        """Sign a session token for ``user`` at its current token version."""
        settings = await self.auth_settings()
        return security.encode_token(
            self.ctx.settings.secret_value(),
            user.id,
            user.token_version,
            self.ctx.clock.now(),
            dt.timedelta(hours=settings.token_ttl_hours),
        )

    async def user_from_token(self, token: str) -> User:
        """Return the signed-in user; 401 for an invalid, expired or revoked token, 403 when banned."""
        claims = security.decode_token(self.ctx.settings.secret_value(), token)
        if claims is None:
            raise AuthenticationFailed("The session token is invalid or expired. Sign in again.", code="invalid_token")
        if claims.expires_at <= self.ctx.clock.now():
            raise AuthenticationFailed("The session token has expired. Sign in again.", code="invalid_token")
        user = await self.get_user(claims.user_id)
        if user is None:
            raise AuthenticationFailed("The session token was revoked. Sign in again.", code="invalid_token")
        # Checked before the version, which a ban also raises, so a banned user reads why.
        if user.banned:
            raise banned_error()
        if user.token_version != claims.token_version:
            raise AuthenticationFailed("The session token was revoked. Sign in again.", code="invalid_token")
        if await self.ctx.state.get(_REVOKED_PREFIX + claims.token_id) is not None:
            raise AuthenticationFailed("The session token was signed out. Sign in again.", code="invalid_token")
        return user

    async def revoke_token(self, token: str) -> None:
        """Sign one token out until it would have expired anyway."""
        claims = security.decode_token(self.ctx.settings.secret_value(), token)
        if claims is None:
            return
        remaining = (claims.expires_at - self.ctx.clock.now()).total_seconds()
        if remaining > 0:
            await self.ctx.state.set(_REVOKED_PREFIX + claims.token_id, "1", ttl=remaining)
        logger.info("user %s signed out one session", claims.user_id)

    async def user_changed(self, user_id: int) -> None:
        """Drop every cache entry that contains ``user_id``. Call it after a change to the user commits."""
        await self.keys.forget_user(user_id)

    # Callers

    async def caller_for_user(self, user: User) -> Caller:
        """Return the caller for a signed-in user (no key, no allow-list)."""
        level = await resolve_level(self.ctx, user)
        return Caller(user=user, group=caller_group(user, self.ctx.clock.now(), level=level))

    async def ensure_ip_not_blocked(self, ip: str) -> None:
        """Raise 429 with ``Retry-After`` while ``ip`` is blocked for sending unknown API keys."""
        blocked = await self.limiter.blocked_for(ip)
        if blocked is not None:
            raise RateLimited(
                "Too many invalid API keys were sent from your IP address. Try again later.",
                retry_after=int(blocked) + 1,
                code="ip_blocked",
            )

    async def caller_from_api_key(self, key: str, ip: str, *, check_block: bool = True) -> Caller:
        """Return the caller for an ``sk-`` key from ``ip``.

        Raises 429 while ``ip`` is blocked for bad keys, 401 for an unknown, disabled or expired
        key (unknown keys count towards the block), and 403 when the owner is banned.
        """
        if check_block:
            await self.ensure_ip_not_blocked(ip)

        entry = await self.keys.lookup(security.hash_api_key(key)) if key.startswith(security.API_KEY_PREFIX) else None
        if entry is None:
            limits = (await self.auth_settings()).rate_limits
            await self.limiter.record_bad_key(ip, limits.bad_api_keys_per_ip, limits.bad_api_key_block_seconds)
            logger.info("rejected an unknown API key from %s", ip)
            raise AuthenticationFailed(
                "Incorrect API key provided. Create a key in the dashboard and send it as "
                "'Authorization: Bearer sk-...'.",
                code="invalid_api_key",
            )
        if not entry.enabled:
            logger.info("rejected disabled API key %s of user %s from %s", entry.key_id, entry.user.id, ip)
            raise AuthenticationFailed("This API key is disabled. Enable it in the dashboard.", code="api_key_disabled")
        if entry.expires_at is not None and entry.expires_at <= self.ctx.clock.now():
            logger.info("rejected expired API key %s of user %s from %s", entry.key_id, entry.user.id, ip)
            raise AuthenticationFailed("This API key has expired. Create or roll a key.", code="api_key_expired")
        if entry.user.banned:
            logger.info("rejected API key %s of banned user %s from %s", entry.key_id, entry.user.id, ip)
            raise banned_error()

        if self._key_use_due(entry.key_id) and await self.ctx.state.set(
            _KEY_USED_PREFIX + str(entry.key_id), "1", ttl=_KEY_USED_INTERVAL, nx=True
        ):
            self.spawn(self._record_key_use(entry.key_id), f"last-use update of API key {entry.key_id}")

        level = await resolve_level(self.ctx, entry.user)
        return Caller(
            user=entry.user,
            api_key_id=entry.key_id,
            allowed_models=entry.allowed_models,
            group=caller_group(entry.user, self.ctx.clock.now(), level=level),
            api_key_name=entry.name,
        )
