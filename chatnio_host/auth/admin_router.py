"""``/api/admin/users`` and ``/api/admin/settings/{auth,mail}`` (with a test mail). Every route requires an admin, and
every change is logged with the acting admin's id."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from chatnio_host.auth import security
from chatnio_host.auth.bootstrap import ROOT_USERNAME
from chatnio_host.auth.deps import AdminUser, JSONOnly
from chatnio_host.auth.mail import send_mail
from chatnio_host.auth.schemas import UserOut, check_email, check_password
from chatnio_host.auth.service import AuthService
from chatnio_host.auth.settings import AUTH_SECTION, MAIL_SECTION, AuthSettings, MailSettings
from chatnio_host.db.models.user import ROLE_ADMIN, ROLE_USER, User
from chatnio_host.deps import CtxDep
from chatnio_host.errors import Conflict, InvalidRequest, NotFound, PermissionDenied

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/admin", tags=["auth"], dependencies=[JSONOnly])


class UserPage(BaseModel):
    """One page of users."""

    items: list[UserOut]
    total: int
    page: int
    page_size: int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetPassword(_Strict):
    """A new password for the user."""

    password: str

    _password = field_validator("password")(check_password)


class SetEmail(_Strict):
    """A new email address, or null to remove it."""

    email: str | None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return check_email(value) if value not in (None, "") else None


class SetLevel(_Strict):
    """A subscription level: 0 normal, 1 basic, 2 standard, 3 pro."""

    level: int = Field(ge=0, le=3)


class MailSettingsOut(BaseModel):
    """The SMTP settings without the password."""

    host: str
    port: int
    security: str
    username: str
    sender: str
    sender_name: str
    timeout_seconds: float
    password_set: bool
    configured: bool


class MailTest(_Strict):
    """The address that receives a test mail."""

    to: str

    _to = field_validator("to")(check_email)


class MailSettingsIn(MailSettings):
    """New SMTP settings; a null ``password`` keeps the stored one, an empty string removes it."""

    model_config = ConfigDict(extra="forbid")

    password: str | None = None  # type: ignore[assignment]


def _service(ctx: CtxDep) -> AuthService:
    return ctx.services["auth"]


def _mail_out(settings: MailSettings) -> MailSettingsOut:
    data = settings.model_dump(exclude={"password"})
    return MailSettingsOut(**data, password_set=bool(settings.password), configured=settings.configured)


@router.get("/users")
async def list_users(
    admin: AdminUser,
    ctx: CtxDep,
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
    search: str | None = Query(None, max_length=255, description="Part of a username or email."),
) -> UserPage:
    """List users by id, optionally filtered by a part of the username or email."""
    query = select(User)
    count = select(func.count()).select_from(User)
    if search and search.strip():
        pattern = f"%{search.strip().lower()}%"
        condition = or_(func.lower(User.username).like(pattern), func.lower(User.email).like(pattern))
        query = query.where(condition)
        count = count.where(condition)
    async with ctx.db.session() as session:
        total = await session.scalar(count) or 0
        users = await session.scalars(query.order_by(User.id).offset((page - 1) * page_size).limit(page_size))
        items = [UserOut.of(user) for user in users]
    return UserPage(items=items, total=total, page=page, page_size=page_size)


@router.get("/users/{user_id}")
async def get_user(user_id: int, admin: AdminUser, ctx: CtxDep) -> UserOut:
    """Return one user."""
    user = await _service(ctx).get_user(user_id)
    if user is None:
        raise NotFound(f"User {user_id} was not found.", param="user_id")
    return UserOut.of(user)


async def _change_user(ctx: CtxDep, admin: User, user_id: int, action: str, **changes: Any) -> UserOut:
    """Apply ``changes`` to a user, raise its token version where needed, and drop its caches."""
    try:
        async with ctx.db.transaction() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound(f"User {user_id} was not found.", param="user_id")
            protected = user.username == ROOT_USERNAME or user.id == admin.id
            if protected and action in ("ban", "revoke-admin"):
                raise PermissionDenied(
                    f"Admins cannot {action.replace('-', ' ')} themselves or the root admin.", code="protected_user"
                )
            revoke_sessions = changes.pop("revoke_sessions", False)
            for field, value in changes.items():
                setattr(user, field, value)
            if revoke_sessions:
                user.token_version += 1
    except IntegrityError as exc:
        raise Conflict("This email address is already used by another account.", param="email") from exc
    await _service(ctx).user_changed(user_id)
    logger.info("admin %s: %s on user %s", admin.id, action, user_id)
    return UserOut.of(user)


@router.post("/users/{user_id}/password")
async def set_password(user_id: int, body: SetPassword, admin: AdminUser, ctx: CtxDep) -> UserOut:
    """Set a user's password; the user's sessions end."""
    return await _change_user(
        ctx, admin, user_id, "set-password",
        password_hash=security.hash_password(body.password), revoke_sessions=True,
    )


@router.post("/users/{user_id}/email")
async def set_email(user_id: int, body: SetEmail, admin: AdminUser, ctx: CtxDep) -> UserOut:
    """Set or remove a user's email address."""
    return await _change_user(ctx, admin, user_id, "set-email", email=body.email)


@router.post("/users/{user_id}/ban")
async def ban_user(user_id: int, admin: AdminUser, ctx: CtxDep) -> UserOut:
    """Ban a user: sign-in, sessions and API keys are refused from the next request on."""
    return await _change_user(ctx, admin, user_id, "ban", banned=True, revoke_sessions=True)


@router.post("/users/{user_id}/unban")
async def unban_user(user_id: int, admin: AdminUser, ctx: CtxDep) -> UserOut:
    """Lift a ban; the user signs in again."""
    return await _change_user(ctx, admin, user_id, "unban", banned=False)


@router.post("/users/{user_id}/grant-admin")
async def grant_admin(user_id: int, admin: AdminUser, ctx: CtxDep) -> UserOut:
    """Give a user the admin role."""
    return await _change_user(ctx, admin, user_id, "grant-admin", role=ROLE_ADMIN)


@router.post("/users/{user_id}/revoke-admin")
async def revoke_admin(user_id: int, admin: AdminUser, ctx: CtxDep) -> UserOut:
    """Take the admin role from a user."""
    return await _change_user(ctx, admin, user_id, "revoke-admin", role=ROLE_USER)


@router.post("/users/{user_id}/level")
async def set_level(user_id: int, body: SetLevel, admin: AdminUser, ctx: CtxDep) -> UserOut:
    """Set a user's level (0 normal, 1 basic, 2 standard, 3 pro).

    With billing installed the subscription's level changes too; it applies while the
    subscription's expiry is in the future (set it with the subscription endpoint).
    """
    changed = await _change_user(ctx, admin, user_id, f"set-level-{body.level}", level=body.level)
    billing = ctx.services.get("billing")
    if billing is not None:
        await billing.set_subscription(user_id, level=body.level, expires_at=None, actor_id=admin.id)
    return changed


@router.get("/settings/auth")
async def get_auth_settings(admin: AdminUser, ctx: CtxDep) -> AuthSettings:
    """Return the sign-up, session, code and rate-limit settings."""
    return await _service(ctx).auth_settings()


@router.put("/settings/auth")
async def put_auth_settings(body: AuthSettings, admin: AdminUser, ctx: CtxDep) -> AuthSettings:
    """Replace the sign-up, session, code and rate-limit settings."""
    await ctx.site.put(AUTH_SECTION, body, actor_id=admin.id)
    logger.info("admin %s changed the auth settings", admin.id)
    return body


@router.get("/settings/mail")
async def get_mail_settings(admin: AdminUser, ctx: CtxDep) -> MailSettingsOut:
    """Return the SMTP settings; the password is never returned."""
    return _mail_out(await _service(ctx).mail_settings())


@router.put("/settings/mail")
async def put_mail_settings(body: MailSettingsIn, admin: AdminUser, ctx: CtxDep) -> MailSettingsOut:
    """Replace the SMTP settings; a null password keeps the stored one."""
    current = await _service(ctx).mail_settings()
    data = body.model_dump()
    if data["password"] is None:
        data["password"] = current.password
    if data["host"] and not data["sender"]:
        raise InvalidRequest("Set sender, the From address, together with host.", param="sender")
    stored = MailSettings.model_validate(data)
    await ctx.site.put(MAIL_SECTION, stored, actor_id=admin.id)
    logger.info("admin %s changed the mail settings (host %s:%s)", admin.id, stored.host, stored.port)
    return _mail_out(stored)


@router.post("/settings/mail/test", status_code=204)
async def send_test_mail(body: MailTest, admin: AdminUser, ctx: CtxDep) -> Response:
    """Send a test mail through the saved SMTP settings; 502 with the reason when it fails."""
    settings = await _service(ctx).mail_settings()
    message = EmailMessage()
    message["Subject"] = "Chat Nio SMTP test / SMTP 测试邮件"
    message["From"] = formataddr((settings.sender_name or "Chat Nio", settings.sender))
    message["To"] = body.to
    message.set_content("The SMTP settings work.\n邮件服务器设置可用。\n")
    await send_mail(settings, message)
    logger.info("admin %s sent a test mail to %s", admin.id, body.to)
    return Response(status_code=204)
