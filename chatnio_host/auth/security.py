"""Password hashing (argon2), session tokens (JWT, HS256) and API key material."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "API_KEY_PREFIX",
    "TokenClaims",
    "decode_token",
    "encode_token",
    "generate_api_key",
    "generate_email_code",
    "hash_api_key",
    "hash_code",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

API_KEY_PREFIX = "sk-"
_API_KEY_RANDOM_CHARS = 48
_TOKEN_ALGORITHM = "HS256"
_TOKEN_AUDIENCE = "chatnio-web"

_hasher = PasswordHasher()

# Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password`` against ``password_hash``; None checks a dummy hash and returns False."""
    try:
        if password_hash is None:
            _hasher.verify(_DUMMY_HASH, password)
            return False
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Return whether the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True)
class TokenClaims:
    """The verified contents of a session token."""

    user_id: int
    token_version: int
    token_id: str
    expires_at: dt.datetime


def encode_token(secret: str, user_id: int, token_version: int, now: dt.datetime, ttl: dt.timedelta) -> str:
    """Sign a session token for ``user_id`` that stays valid while the version matches."""
    claims = {
        "sub": str(user_id),
        "ver": token_version,
        "jti": secrets.token_urlsafe(12),
        "aud": _TOKEN_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=_TOKEN_ALGORITHM)


def decode_token(secret: str, token: str) -> TokenClaims | None:
    """Verify a session token's signature and audience; None when either check fails.

    The caller compares ``expires_at`` with its clock.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_TOKEN_ALGORITHM],
            audience=_TOKEN_AUDIENCE,
            # Expiry is checked by the caller against the app's clock, which tests may move.
            options={"require": ["sub", "ver", "jti", "exp", "iat"], "verify_exp": False, "verify_iat": False},
        )
        return TokenClaims(
            user_id=int(claims["sub"]),
            token_version=int(claims["ver"]),
            token_id=str(claims["jti"]),
            expires_at=dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC),
        )
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return None


def generate_api_key() -> str:
    """Return a new key: ``sk-`` and 48 URL-safe characters from the OS random source."""
    return API_KEY_PREFIX + secrets.token_urlsafe(36)[:_API_KEY_RANDOM_CHARS]


def hash_api_key(key: str) -> str:
    """Return the hex SHA-256 of a key, the form stored and looked up."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_email_code() -> str:
    """Return a 6-digit code from the OS random source."""
    return f"{secrets.randbelow(1_000_000):06d}"


def hash_code(email: str, purpose: str, code: str) -> str:
    """Return the hash stored for an emailed code, bound to its address and purpose."""
    return hashlib.sha256(f"{email}\n{purpose}\n{code}".encode()).hexdigest()


def codes_equal(left: str, right: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(left, right)
