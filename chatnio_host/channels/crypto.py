"""Encryption of vendor keys at rest (Fernet: AES-128-CBC with HMAC-SHA256).

The Fernet key comes from ``CHATNIO_ENCRYPTION_KEY`` when set: a 32-byte url-safe base64 Fernet
key is used as is, any other value is stretched with HKDF. Without it the key is derived from
``SECRET`` with HKDF, so changing ``SECRET`` makes saved vendor keys unreadable.
"""

from __future__ import annotations

import base64
import binascii
import logging

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chatnio_host.config import Settings
from chatnio_host.errors import ConfigError

__all__ = ["KeyCipher", "mask_key"]

logger = logging.getLogger(__name__)

_HKDF_INFO = b"chatnio vendor keys v1"
_HKDF_SALT = b"chatnio-channels"


def _derive(material: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(material.encode("utf-8")))


def _fernet_key(settings: Settings) -> bytes:
    if settings.encryption_key is not None:
        given = settings.encryption_key.get_secret_value().strip()
        try:
            if len(base64.urlsafe_b64decode(given.encode("ascii"))) == 32:
                return given.encode("ascii")
        except (binascii.Error, UnicodeEncodeError, ValueError):
            pass
        return _derive(given)
    return _derive(settings.secret_value())


class KeyCipher:
    """Encrypt and decrypt vendor keys with the process's Fernet key."""

    def __init__(self, settings: Settings) -> None:
        self._fernet = Fernet(_fernet_key(settings))

    def encrypt(self, plaintext: str) -> str:
        """Return the Fernet token of ``plaintext`` as text."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Return the plaintext of ``token``; raise ``ConfigError`` when the key cannot read it."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise ConfigError(
                "A saved vendor key cannot be decrypted: CHATNIO_ENCRYPTION_KEY or SECRET changed since "
                "it was saved. Restore the old value, or enter the channel's keys again."
            ) from exc


def mask_key(key: str) -> str:
    """Return ``key`` masked to at most its last four characters (``****`` for short keys)."""
    if len(key) <= 8:
        return "****"
    return "****" + key[-4:]
