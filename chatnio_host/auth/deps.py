"""FastAPI dependencies that authenticate the caller.

* ``CurrentUser``: the signed-in ``User`` from ``Authorization: Bearer <JWT>``; 401 without one,
  403 when banned. API keys are not accepted here.
* ``OptionalUser``: ``User | None``; no token, or an invalid one, is anonymous.
* ``AdminUser``: like ``CurrentUser``, 403 unless the user is an admin.
* ``RelayCaller``: a ``Caller`` from an API key only (``Authorization: Bearer sk-...``,
  ``x-api-key``, ``x-goog-api-key``, or ``?key=`` on ``/v1beta``); a JWT gets 401.
* ``KeyOrUser``: a ``Caller`` from an API key or a JWT.
* ``JSONOnly``: router dependency; 415 for a state-changing request whose body is not JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from chatnio_host.auth.caller import Caller
from chatnio_host.auth.security import API_KEY_PREFIX
from chatnio_host.db.models.user import User
from chatnio_host.errors import AuthenticationFailed, PermissionDenied, UnsupportedMediaType

if TYPE_CHECKING:
    from chatnio_host.auth.service import AuthService

__all__ = [
    "AdminUser",
    "Caller",
    "CurrentUser",
    "JSONOnly",
    "KeyOrUser",
    "OptionalUser",
    "RelayCaller",
    "bearer_token",
    "get_admin_user",
    "get_current_user",
    "get_key_or_user",
    "get_optional_user",
    "get_relay_caller",
    "require_json",
]


def _service(request: Request) -> AuthService:
    return request.app.state.ctx.services["auth"]


def bearer_token(request: Request) -> str | None:
    """Return the token of ``Authorization: Bearer <token>`` (or a bare token), or None."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if not value:
        return scheme or None
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _relay_key(request: Request) -> str | None:
    token = bearer_token(request)
    if token:
        return token
    for header in ("x-api-key", "x-goog-api-key"):
        value = request.headers.get(header)
        if value and value.strip():
            return value.strip()
    if request.url.path.startswith("/v1beta"):
        value = request.query_params.get("key")
        if value:
            return value.strip()
    return None


async def get_current_user(request: Request) -> User:
    """Return the signed-in user of a web API request."""
    token = bearer_token(request)
    if token is None:
        raise AuthenticationFailed(
            "Sign in first: send the session token as 'Authorization: Bearer <token>'.", code="not_signed_in"
        )
    if token.startswith(API_KEY_PREFIX):
        raise AuthenticationFailed(
            "API keys work only on the relay (/v1). Sign in to use this endpoint.", code="api_key_not_accepted"
        )
    return await _service(request).user_from_token(token)


async def get_optional_user(request: Request) -> User | None:
    """Return the signed-in user, or None for anonymous callers; a banned user still gets 403."""
    token = bearer_token(request)
    if token is None or token.startswith(API_KEY_PREFIX):
        return None
    try:
        return await _service(request).user_from_token(token)
    except AuthenticationFailed:
        return None


async def get_admin_user(user: Annotated[User, Depends(get_current_user)]) -> User:
    """Return the signed-in user when it is an admin."""
    if not user.is_admin:
        raise PermissionDenied("This endpoint is for administrators only.", code="admin_required")
    return user


async def get_relay_caller(request: Request) -> Caller:
    """Return the caller of a relay request, authenticated by an API key only."""
    service = _service(request)
    ip = service.client_ip(request)
    await service.ensure_ip_not_blocked(ip)

    key = _relay_key(request)
    if key is None:
        raise AuthenticationFailed("Missing API key. Send it as 'Authorization: Bearer sk-...'.", code="missing_api_key")
    if not key.startswith(API_KEY_PREFIX) and key.count(".") == 2:
        raise AuthenticationFailed(
            "The relay accepts API keys only, not session tokens. Create a key in the dashboard.",
            code="invalid_api_key",
        )
    return await service.caller_from_api_key(key, ip, check_block=False)


async def get_key_or_user(request: Request) -> Caller:
    """Return the caller from an API key, or else from a session token."""
    token = bearer_token(request)
    if token is None or token.startswith(API_KEY_PREFIX) or request.headers.get("x-api-key"):
        return await get_relay_caller(request)
    service = _service(request)
    return await service.caller_for_user(await service.user_from_token(token))


async def require_json(request: Request) -> None:
    """Reject a state-changing request with a body that is not ``application/json``.

    Browsers send form and ``text/plain`` bodies across sites without a preflight, so accepting
    only JSON keeps those requests out.
    """
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    has_body = request.headers.get("transfer-encoding") or request.headers.get("content-length", "0") not in ("", "0")
    if not has_body:
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Send the request body as application/json, not {content_type or 'an untyped body'}.",
            param="Content-Type",
        )


CurrentUser = Annotated[User, Depends(get_current_user)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]
RelayCaller = Annotated[Caller, Depends(get_relay_caller)]
KeyOrUser = Annotated[Caller, Depends(get_key_or_user)]
JSONOnly = Depends(require_json)
