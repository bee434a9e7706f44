"""Site settings sections of the auth concept: ``auth`` (sign-up, codes, limits) and ``mail`` (SMTP).

Both are edited at run time by admins (``/api/admin/settings/auth`` and ``/mail``) and stored
through ``ctx.site``.
"""

from __future__ import annotations

from typing import Literal

from limits import parse
from pydantic import BaseModel, Field, field_validator

__all__ = ["AUTH_SECTION", "MAIL_SECTION", "AuthSettings", "MailSettings", "RateLimitSettings"]

AUTH_SECTION = "auth"
MAIL_SECTION = "mail"

DEFAULT_WHITELIST = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "hotmail.com",
    "foxmail.com",
    "icloud.com",
    "qq.com",
    "163.com",
    "126.com",
]


def _check_limit(value: str) -> str:
    try:
        parse(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a rate limit; write it like '10/minute' or '10 per 2 minutes'") from exc
    return value


class RateLimitSettings(BaseModel):
    """Rate limits in the ``limits`` notation (``10/minute``, ``10 per 2 minutes``)."""

    login_per_ip: str = Field("10/minute", description="Sign-in attempts per client IP.")
    login_per_username: str = Field("10/minute", description="Sign-in attempts per username or email.")
    register_per_ip: str = Field("5/minute", description="Registrations per client IP.")
    reset_per_ip: str = Field("10 per 2 minutes", description="Password resets per client IP.")
    email_code_per_address: list[str] = Field(
        default_factory=lambda: ["1/minute", "5/hour"], description="Code mails per email address."
    )
    email_code_per_ip: str = Field("10/minute", description="Code requests per client IP.")
    bad_api_keys_per_ip: str = Field(
        "50 per 10 minutes", description="Unknown API keys one IP may send before it is blocked."
    )
    bad_api_key_block_seconds: int = Field(600, ge=1, description="How long a blocked IP stays blocked, in seconds.")

    @field_validator("login_per_ip", "login_per_username", "register_per_ip", "reset_per_ip",
                     "email_code_per_ip", "bad_api_keys_per_ip")
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        return _check_limit(value)

    @field_validator("email_code_per_address")
    @classmethod
    def _valid_limits(cls, value: list[str]) -> list[str]:
        return [_check_limit(item) for item in value]


class AuthSettings(BaseModel):
    """Sign-up rules, session and code lifetimes, and rate limits."""

    registration_closed: bool = Field(False, description="Refuse new registrations.")
    email_verification_required: bool = Field(
        False, description="Registration needs an email address and a code mailed to it."
    )
    email_whitelist_enabled: bool = Field(False, description="Accept only email domains in email_whitelist.")
    email_whitelist: list[str] = Field(
        default_factory=lambda: list(DEFAULT_WHITELIST), description="Accepted email domains, matched exactly."
    )
    token_ttl_hours: int = Field(720, ge=1, le=24 * 365, description="Lifetime of a session token in hours.")
    code_ttl_seconds: int = Field(600, ge=60, le=3600, description="Lifetime of an emailed code in seconds.")
    code_max_failed_attempts: int = Field(
        5, ge=1, le=20, description="Wrong entries after which a code stops working."
    )
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)

    @field_validator("email_whitelist")
    @classmethod
    def _normalise_domains(cls, value: list[str]) -> list[str]:
        return [item.strip().lower().lstrip("@") for item in value if item.strip()]


class MailSettings(BaseModel):
    """The SMTP server that sends verification codes. ``password`` is write-only in the API."""

    host: str = ""
    port: int = Field(465, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = Field(
        "ssl", description="ssl: implicit TLS (usually port 465); starttls: upgrade (587); none: plain."
    )
    username: str = ""
    password: str = ""
    sender: str = Field("", description="From address, such as noreply@example.com.")
    sender_name: str = Field("", description="Display name in the From header.")
    timeout_seconds: float = Field(15.0, gt=0, le=120)

    @property
    def configured(self) -> bool:
        """Whether enough is set to send mail (host, port and sender)."""
        return bool(self.host and self.port and self.sender)
