"""Request and response bodies of the auth, API key and admin users routes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatnio_host.db.models.user import User

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyOut",
    "ApiKeyUpdate",
    "AuthOptions",
    "CodeRequest",
    "CodeSent",
    "LoginRequest",
    "MeOut",
    "PasswordChange",
    "RegisterRequest",
    "ResetRequest",
    "TokenOut",
    "UserOut",
]

USERNAME_PATTERN = re.compile(r"^[\w.\-]{2,24}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]{1,63})+$")
CodePurpose = Literal["register", "reset"]


def check_username(value: str) -> str:
    """Return the trimmed username, or raise when it is not 2 to 24 letters, digits, '_', '.' or '-'."""
    value = value.strip()
    if not USERNAME_PATTERN.fullmatch(value):
        raise ValueError("the username must be 2 to 24 letters, digits, '_', '.' or '-'")
    return value


def check_email(value: str) -> str:
    """Return the trimmed, lower-case address, or raise when it is not an email address."""
    value = value.strip().lower()
    if len(value) > 255 or not EMAIL_PATTERN.fullmatch(value):
        raise ValueError("enter an email address such as name@example.com")
    return value


def check_password(value: str) -> str:
    """Return the password, or raise when it is not 6 to 128 characters long."""
    if not 6 <= len(value) <= 128:
        raise ValueError("the password must be 6 to 128 characters long")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Strict):
    """A new account; ``email`` and ``code`` are needed when email verification is on."""

    username: str
    password: str
    email: str | None = None
    code: str | None = Field(None, max_length=16)

    _username = field_validator("username")(check_username)
    _password = field_validator("password")(check_password)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return check_email(value) if value not in (None, "") else None


class LoginRequest(_Strict):
    """Sign-in by username or email."""

    username: str = Field(min_length=1, max_length=255, description="Username or email address.")
    password: str = Field(min_length=1, max_length=128)


class PasswordChange(_Strict):
    """A password change by the signed-in user."""

    old_password: str = Field(min_length=1, max_length=128)
    new_password: str

    _password = field_validator("new_password")(check_password)


class ResetRequest(_Strict):
    """A password reset with a code mailed for the ``reset`` purpose."""

    email: str
    code: str = Field(min_length=1, max_length=16)
    password: str

    _email = field_validator("email")(check_email)
    _password = field_validator("password")(check_password)


class CodeRequest(_Strict):
    """A request to mail a 6-digit code."""

    email: str
    purpose: CodePurpose

    _email = field_validator("email")(check_email)


class CodeSent(BaseModel):
    """The same response whether or not a mail was sent, so it reveals no account."""

    sent: bool = True
    expires_in: int = Field(description="Seconds the code stays valid.")


class UserOut(BaseModel):
    """A user as the web app and admins see it."""

    id: int
    username: str
    email: str | None
    role: str
    is_admin: bool
    level: int
    banned: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        """Build from a ``User`` row."""
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            role=user.role,
            is_admin=user.is_admin,
            level=user.level,
            banned=user.banned,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class MeOut(UserOut):
    """The signed-in user, with the pricing group and whether the password must change."""

    group: str
    must_change_password: bool


class TokenOut(BaseModel):
    """A session token and its user."""

    token: str
    user: UserOut


class AuthOptions(BaseModel):
    """Sign-up options for the registration form."""

    registration_open: bool
    email_verification_required: bool
    mail_configured: bool
    email_whitelist: list[str] | None = Field(description="Accepted email domains, or None when any is accepted.")


class ApiKeyOut(BaseModel):
    """A key without its secret: only the last 4 characters are kept."""

    id: int
    name: str
    masked_key: str
    enabled: bool
    expires_at: dt.datetime | None
    allowed_models: list[str] | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    """A key as created or rolled: ``key`` is shown this once."""

    key: str


def _check_models(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    cleaned = sorted({item.strip() for item in value if item.strip()})
    if len(cleaned) > 500:
        raise ValueError("an allow-list contains at most 500 models")
    return cleaned


class ApiKeyCreate(_Strict):
    """A new key: a name, an optional expiry and an optional model allow-list."""

    name: str = Field("default", min_length=1, max_length=64)
    expires_at: dt.datetime | None = None
    allowed_models: list[str] | None = Field(None, description="Models this key may call; null allows all.")

    _models = field_validator("allowed_models")(_check_models)


class ApiKeyUpdate(_Strict):
    """Fields to change on a key; omitted fields stay as they are."""

    name: str | None = Field(None, min_length=1, max_length=64)
    enabled: bool | None = None
    expires_at: dt.datetime | None = None
    allowed_models: list[str] | None = None

    _models = field_validator("allowed_models")(_check_models)
