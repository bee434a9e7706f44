"""Errors the host raises and plugins may raise.

The tree::

    ChatnioError                    base of everything here
    ├── StartupError                the host cannot start (plugin clash, bad config, old schema)
    ├── ConfigError                 a setting has an invalid value
    └── APIError                    maps to an HTTP answer; ``status``, ``type`` and ``code``
        ├── InvalidRequest          400 invalid_request_error (``param`` names the field)
        ├── AuthenticationFailed    401 authentication_error
        ├── PermissionDenied        403 permission_error
        ├── InsufficientQuota       403 insufficient_quota
        ├── NotFound                404
        ├── Conflict                409
        ├── PayloadTooLarge         413
        ├── UnsupportedMediaType    415
        ├── RateLimited             429 (``retry_after`` seconds)
        ├── UpstreamError           502 upstream failed after every channel
        ├── NoChannel               503 no enabled channel serves the model
        └── UpstreamTimeout         504 no first byte within the timeout

Each surface renders these with one function: the OpenAI body on ``/v1`` and the
``{"error": {...}}`` body of the web API elsewhere (see ``chatnio_host.http_errors``).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "APIError",
    "AuthenticationFailed",
    "ChatnioError",
    "ConfigError",
    "Conflict",
    "InsufficientQuota",
    "InvalidRequest",
    "NoChannel",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "StartupError",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamTimeout",
]


class ChatnioError(Exception):
    """Base class of every error the host defines."""


class StartupError(ChatnioError):
    """The host cannot start; the message says why and how to fix it."""


class ConfigError(ChatnioError):
    """A setting has an invalid value; the message names the setting."""


class APIError(ChatnioError):
    """An error that becomes an HTTP answer with an error body."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "api_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = dict(headers or {})
        if status is not None:
            self.status = status  # type: ignore[misc]

    def body(self) -> dict[str, Any]:
        """Return the OpenAI-style error body."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(APIError):
    """The request body or parameters are invalid."""

    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(APIError):
    """The credentials are missing, invalid, expired or revoked."""

    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(APIError):
    """The caller is known but may not do this (banned, not admin, model not allowed)."""

    status = 403
    type = "permission_error"
    default_code = "permission_denied"


class InsufficientQuota(APIError):
    """The balance or subscription quota does not cover the request."""

    status = 403
    type = "insufficient_quota"
    default_code = "insufficient_quota"


class NotFound(APIError):
    """The resource does not exist or is not visible to the caller."""

    status = 404
    type = "not_found_error"
    default_code = "not_found"


class Conflict(APIError):
    """The request conflicts with the current state (duplicate name, code already used)."""

    status = 409
    type = "conflict_error"
    default_code = "conflict"


class PayloadTooLarge(APIError):
    """The request body or an upload is larger than the configured limit."""

    status = 413
    type = "invalid_request_error"
    default_code = "payload_too_large"


class UnsupportedMediaType(APIError):
    """The content type or file type is not supported."""

    status = 415
    type = "invalid_request_error"
    default_code = "unsupported_media_type"


class RateLimited(APIError):
    """Too many requests; ``retry_after`` says when to try again."""

    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if retry_after is not None:
            self.headers.setdefault("Retry-After", str(max(1, int(retry_after))))


class UpstreamError(APIError):
    """Every channel failed; the message is already sanitised."""

    status = 502
    type = "upstream_error"
    default_code = "upstream_error"


class NoChannel(APIError):
    """No enabled channel serves the requested model for the caller's group."""

    status = 503
    type = "service_unavailable_error"
    default_code = "no_channel"


class UpstreamTimeout(APIError):
    """No channel answered within the first-byte timeout."""

    status = 504
    type = "timeout_error"
    default_code = "upstream_timeout"
