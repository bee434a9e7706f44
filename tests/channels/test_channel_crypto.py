"""Vendor key encryption: key from CHATNIO_ENCRYPTION_KEY or derived from SECRET."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from chatnio_host.channels.crypto import KeyCipher, mask_key
from chatnio_host.errors import ConfigError
from chatnio_host.testing import make_settings


def test_roundtrip_from_secret(tmp_path: Path) -> None:
    cipher = KeyCipher(make_settings(tmp_path))
    token = cipher.encrypt("sk-vendor-1")
    assert "sk-vendor-1" not in token
    assert cipher.decrypt(token) == "sk-vendor-1"


def test_same_secret_same_key(tmp_path: Path) -> None:
    token = KeyCipher(make_settings(tmp_path)).encrypt("k")
    assert KeyCipher(make_settings(tmp_path)).decrypt(token) == "k"


def test_other_secret_cannot_read(tmp_path: Path) -> None:
    token = KeyCipher(make_settings(tmp_path)).encrypt("k")
    other = KeyCipher(make_settings(tmp_path, secret="another-secret-" + "y" * 32))
    with pytest.raises(ConfigError) as caught:
        other.decrypt(token)
    assert "SECRET" in str(caught.value)


def test_fernet_encryption_key_used_as_is(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    cipher = KeyCipher(make_settings(tmp_path, encryption_key=key))
    token = cipher.encrypt("k")
    assert Fernet(key.encode()).decrypt(token.encode()) == b"k"


def test_passphrase_encryption_key_derived(tmp_path: Path) -> None:
    cipher = KeyCipher(make_settings(tmp_path, encryption_key="a passphrase, not a Fernet key"))
    token = cipher.encrypt("k")
    assert cipher.decrypt(token) == "k"
    with pytest.raises(ConfigError):
        KeyCipher(make_settings(tmp_path)).decrypt(token)


@pytest.mark.parametrize(
    ("key", "masked"),
    [("sk-abcdef123456", "****3456"), ("abc", "****"), ("12345678", "****"), ("123456789", "****6789")],
)
def test_mask_keeps_last_four(key: str, masked: str) -> None:
    assert mask_key(key) == masked
