"""``/api/auth``: registration, sign-in, sessions, password change and reset, emailed codes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from chatnio_host.auth import security
from chatnio_host.auth.bootstrap import uses_default_password
from chatnio_host.auth.codes import CodeStore
from chatnio_host.auth.deps import CurrentUser, JSONOnly, bearer_token
from chatnio_host.auth.mail import MailNotConfigured, code_message, send_mail
from chatnio_host.auth.schemas import (
    AuthOptions,
    CodeRequest,
    CodeSent,
    LoginRequest,
    MeOut,
    PasswordChange,
    RegisterRequest,
    ResetRequest,
    TokenOut,
    UserOut,
)
from chatnio_host.auth.caller import resolve_level
from chatnio_host.auth.service import AuthService, banned_error
from chatnio_host.auth.settings import AuthSettings
from chatnio_host.db.models.user import User
from chatnio_host.deps import CtxDep
from chatnio_host.errors import AuthenticationFailed, Conflict, InvalidRequest, PermissionDenied

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/auth", tags=["auth"], dependencies=[JSONOnly])

_BAD_LOGIN = "Incorrect username or password."
_BAD_CODE = "The code is wrong, used, expired or replaced by a newer one. Request a new code."


def _service(ctx: CtxDep) -> AuthService:
    return ctx.services["auth"]


def check_whitelist(settings: AuthSettings, email: str) -> None:
    """Raise 400 when the whitelist is on and the address's domain is not on it."""
    if not settings.email_whitelist_enabled:
        return
    domain = email.rpartition("@")[2].lower()
    if domain not in settings.email_whitelist:
        allowed = ", ".join(settings.email_whitelist) or "(none)"
        raise InvalidRequest(
            f"Email addresses at {domain} are not accepted. Use an address at one of: {allowed}.",
            param="email",
            code="email_domain_not_allowed",
        )


async def _site_name(ctx: CtxDep) -> str:
    general = await ctx.site.get_raw("general")
    return str(general.get("title") or "Chat Nio")


@router.get("/options")
async def options(ctx: CtxDep) -> AuthOptions:
    """Return what the sign-up form needs: open or closed, verification, whitelist."""
    service = _service(ctx)
    settings = await service.auth_settings()
    mail = await service.mail_settings()
    return AuthOptions(
        registration_open=not settings.registration_closed,
        email_verification_required=settings.email_verification_required,
        mail_configured=mail.configured,
        email_whitelist=settings.email_whitelist if settings.email_whitelist_enabled else None,
    )


@router.post("/register", status_code=201)
async def register(body: RegisterRequest, request: Request, ctx: CtxDep) -> TokenOut:
    """Create an account and sign it in."""
    service = _service(ctx)
    settings = await service.auth_settings()
    ip = service.client_ip(request)
    await service.limiter.hit(
        "register", settings.rate_limits.register_per_ip, ip, message="Too many registrations from your IP address."
    )
    if settings.registration_closed:
        raise PermissionDenied("Registration is closed on this site.", code="registration_closed")
    if settings.email_verification_required and not body.email:
        raise InvalidRequest("An email address is required to register.", param="email")
    if body.email:
        check_whitelist(settings, body.email)

    async with ctx.db.session() as session:
        if await session.scalar(select(User.id).where(User.username == body.username)) is not None:
            raise Conflict(f"The username {body.username!r} is taken. Choose another.", param="username")
        if body.email and await session.scalar(
            select(User.id).where(func.lower(User.email) == body.email)
        ) is not None:
            raise Conflict("This email address is already registered. Sign in or reset the password.", param="email")

    if settings.email_verification_required:
        if not body.code:
            raise InvalidRequest("Enter the code mailed to your address.", param="code")
        store = CodeStore(ctx.db)
        if not await store.consume(
            body.email or "", "register", body.code, ctx.clock.now(), settings.code_max_failed_attempts
        ):
            raise InvalidRequest(_BAD_CODE, param="code", code="invalid_code")

    try:
        async with ctx.db.transaction() as session:
            user = await service.create_user(
                session, username=body.username, password=body.password, email=body.email
            )
            user.last_login_at = ctx.clock.now()
    except IntegrityError as exc:
        logger.info("registration of %s lost a race on a unique field: %s", body.username, type(exc).__name__)
        raise Conflict("The username or email address is taken. Choose another.", param="username") from exc
    logger.info("user %s registered from %s", user.id, ip)
    return TokenOut(token=await service.issue_token(user), user=UserOut.of(user))


@router.post("/login")
async def login(body: LoginRequest, request: Request, ctx: CtxDep) -> TokenOut:
    """Sign in by username or email; a wrong username and a wrong password get the same response."""
    service = _service(ctx)
    limits = (await service.auth_settings()).rate_limits
    ip = service.client_ip(request)
    message = "Too many sign-in attempts. Wait and try again."
    await service.limiter.hit("login-ip", limits.login_per_ip, ip, message=message)
    await service.limiter.hit("login-user", limits.login_per_username, body.username.strip().lower(), message=message)

    async with ctx.db.transaction() as session:
        user = await service.find_user_for_login(session, body.username)
        if not security.verify_password(user.password_hash if user else None, body.password) or user is None:
            logger.info("failed sign-in for %r from %s", body.username[:64], ip)
            raise AuthenticationFailed(_BAD_LOGIN, code="invalid_credentials")
        if user.banned:
            raise banned_error()
        if security.needs_rehash(user.password_hash):
            user.password_hash = security.hash_password(body.password)
        user.last_login_at = ctx.clock.now()
    logger.info("user %s signed in from %s", user.id, ip)
    return TokenOut(token=await service.issue_token(user), user=UserOut.of(user))


@router.post("/logout", status_code=204)
async def logout(user: CurrentUser, request: Request, ctx: CtxDep) -> Response:
    """Sign out the session token of this request."""
    token = bearer_token(request)
    if token:
        await _service(ctx).revoke_token(token)
    return Response(status_code=204)


@router.post("/logout-all", status_code=204)
async def logout_all(user: CurrentUser, ctx: CtxDep) -> Response:
    """Sign out every session of the user by raising its token version."""
    async with ctx.db.transaction() as session:
        row = await session.get(User, user.id)
        if row is not None:
            row.token_version += 1
    await _service(ctx).user_changed(user.id)
    logger.info("user %s signed out everywhere", user.id)
    return Response(status_code=204)


@router.get("/me")
async def me(user: CurrentUser, ctx: CtxDep) -> MeOut:
    """Return the signed-in user."""
    caller = await _service(ctx).caller_for_user(user)
    # The level shown is the one in force: a subscription level counts only while it is active.
    level = await resolve_level(ctx, user)
    return MeOut(
        **{**UserOut.of(user).model_dump(), "level": level},
        group=caller.group,
        must_change_password=await uses_default_password(ctx, user),
    )


@router.post("/password")
async def change_password(body: PasswordChange, user: CurrentUser, request: Request, ctx: CtxDep) -> TokenOut:
    """Change the password (the old one is required); every other session is signed out."""
    service = _service(ctx)
    limits = (await service.auth_settings()).rate_limits
    await service.limiter.hit(
        "password-user", limits.login_per_username, str(user.id), message="Too many password attempts."
    )
    async with ctx.db.transaction() as session:
        row = await session.get(User, user.id)
        if row is None or not security.verify_password(row.password_hash, body.old_password):
            raise InvalidRequest("The current password is incorrect.", param="old_password", code="invalid_credentials")
        row.password_hash = security.hash_password(body.new_password)
        row.token_version += 1
    await service.user_changed(user.id)
    logger.info("user %s changed the password from %s", user.id, service.client_ip(request))
    return TokenOut(token=await service.issue_token(row), user=UserOut.of(row))


@router.post("/email-code")
async def email_code(body: CodeRequest, request: Request, ctx: CtxDep) -> CodeSent:
    """Mail a 6-digit code. For ``reset`` the response is the same whether or not the address has an account."""
    service = _service(ctx)
    settings = await service.auth_settings()
    ip = service.client_ip(request)
    await service.limiter.hit(
        "email-code-ip", settings.rate_limits.email_code_per_ip, ip, message="Too many code requests from your IP address."
    )
    if body.purpose == "register":
        if settings.registration_closed:
            raise PermissionDenied("Registration is closed on this site.", code="registration_closed")
        check_whitelist(settings, body.email)

    async with ctx.db.session() as session:
        account = await session.scalar(select(User).where(func.lower(User.email) == body.email))
    if body.purpose == "register" and account is not None:
        raise Conflict("This email address is already registered. Sign in or reset the password.", param="email")

    mail = await service.mail_settings()
    if not mail.configured:
        raise MailNotConfigured("Email is not configured on this site. Ask an administrator to set up SMTP.")

    for limit in settings.rate_limits.email_code_per_address:
        await service.limiter.hit(
            "email-code-address", limit, body.email, message="A code was mailed to this address recently. Wait before asking again."
        )

    answer = CodeSent(expires_in=settings.code_ttl_seconds)
    if body.purpose == "reset" and (account is None or account.banned):
        logger.info("reset code requested for %s, which has no usable account; nothing sent", body.email)
        return answer

    code = await CodeStore(ctx.db).issue(body.email, body.purpose, ctx.clock.now(), settings.code_ttl_seconds)
    message = code_message(mail, await _site_name(ctx), body.email, body.purpose, code, settings.code_ttl_seconds)
    if body.purpose == "register":
        await send_mail(mail, message)
    else:
        # Sent in the background so a known address gets its response as fast as an unknown one.
        service.spawn(send_mail(mail, message), f"reset mail to {body.email}")
    return answer


@router.post("/reset")
async def reset_password(body: ResetRequest, request: Request, ctx: CtxDep) -> Response:
    """Set a new password with a ``reset`` code; every session of the account is signed out."""
    service = _service(ctx)
    settings = await service.auth_settings()
    ip = service.client_ip(request)
    await service.limiter.hit(
        "reset-ip", settings.rate_limits.reset_per_ip, ip, message="Too many password resets from your IP address."
    )

    async with ctx.db.session() as session:
        account = await session.scalar(select(User).where(func.lower(User.email) == body.email))
    store = CodeStore(ctx.db)
    if account is None:
        logger.info("reset for %s, which has no account, from %s", body.email, ip)
        raise InvalidRequest(_BAD_CODE, param="code", code="invalid_code")
    if not await store.consume(body.email, "reset", body.code, ctx.clock.now(), settings.code_max_failed_attempts):
        raise InvalidRequest(_BAD_CODE, param="code", code="invalid_code")

    async with ctx.db.transaction() as session:
        row = await session.get(User, account.id)
        if row is not None:
            row.password_hash = security.hash_password(body.password)
            row.token_version += 1
    await service.user_changed(account.id)
    logger.info("user %s reset the password from %s", account.id, ip)
    return Response(status_code=204)
