"""Settings: defaults, the YAML file, environment overrides, aliases and `chatnio config show`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from chatnio_host.config import load_settings, settings_sources
from chatnio_host.errors import ConfigError


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings({}, tmp_path / "none.yaml", generate_secret=False)

    assert settings.port == 8094
    assert settings.database_url == "sqlite+aiosqlite:///data/chatnio.db"
    assert settings.redis_url is None
    assert settings_sources(settings)["port"] == "default"


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("port: 9001\nlog_level: debug\nallow_origins: [chatnio.net]\n", encoding="utf-8")

    settings = load_settings({"PORT": "9002"}, config, generate_secret=False)
    sources = settings_sources(settings)

    assert settings.port == 9002
    assert sources["port"] == "environment"
    assert settings.log_level == "DEBUG"
    assert sources["log_level"] == "file"
    assert settings.allow_origins == ["chatnio.net"]


def test_empty_environment_variable_counts_as_unset(tmp_path: Path) -> None:
    settings = load_settings({"DATABASE_URL": "", "MYSQL_HOST": ""}, tmp_path / "none.yaml", generate_secret=False)

    assert settings.database_url.startswith("sqlite+aiosqlite")


def test_chatnio_aliases_build_urls(tmp_path: Path) -> None:
    environ = {
        "MYSQL_HOST": "db.internal",
        "MYSQL_PORT": "3307",
        "MYSQL_USER": "nio",
        "MYSQL_PASSWORD": "p@ss",
        "MYSQL_DB": "chat",
        "REDIS_HOST": "cache.internal",
        "REDIS_PORT": "6380",
        "REDIS_DB": "2",
        "SERVER_PORT": "9000",
    }

    settings = load_settings(environ, tmp_path / "none.yaml", generate_secret=False)

    assert settings.database_url == "mysql+aiomysql://nio:p%40ss@db.internal:3307/chat"
    assert settings.redis_url == "redis://cache.internal:6380/2"
    assert settings.port == 9000


def test_nested_yaml_sections_accepted(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "mysql:\n  host: localhost\n  user: root\n  db: chatnio\nredis:\n  host: localhost\nserver:\n  port: 8100\n",
        encoding="utf-8",
    )

    settings = load_settings({}, config, generate_secret=False)

    assert settings.database_url == "mysql+aiomysql://root@localhost:3306/chatnio"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.port == 8100


def test_invalid_value_names_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"PORT": "not-a-port"}, tmp_path / "none.yaml", generate_secret=False)

    assert "port" in str(error.value)


def test_generated_secret_kept_private(tmp_path: Path) -> None:
    first = load_settings({}, tmp_path / "none.yaml", data_dir=str(tmp_path / "data"))
    second = load_settings({}, tmp_path / "none.yaml", data_dir=str(tmp_path / "data"))
    secret_file = tmp_path / "data" / "secret"

    assert first.secret_value() == second.secret_value()
    assert len(first.secret_value()) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert settings_sources(first)["secret"] == "generated"


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("log_level: WARNING\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CHATNIO_", "MYSQL_", "REDIS_"))}
    env.update(
        {
            "SECRET": "top-secret-signing-value-1234",
            "DATABASE_URL": "postgresql+asyncpg://nio:dbpassword99@db:5432/chat",
            "REDIS_URL": "redis://:redispass77@cache:6379/0",
            "CHATNIO_ENCRYPTION_KEY": "encryption-key-material-5678",
        }
    )

    result = subprocess.run(
        [sys.executable, "-m", "chatnio_host", "config", "show", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for clear in ("top-secret-signing-value", "dbpassword99", "redispass77", "encryption-key-material"):
        assert clear not in result.stdout
    assert rows["secret"]["source"] == "environment"
    assert rows["secret"]["value"].endswith("1234")
    assert rows["log_level"] == {"name": "log_level", "value": "WARNING", "source": "file"}
    assert rows["port"]["source"] == "default"
    assert rows["database_url"]["value"] == "postgresql+asyncpg://nio:****@db:5432/chat"


def test_comma_lists_from_real_environment(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CHATNIO_", "MYSQL_", "REDIS_"))}
    env.update({"SECRET": "s" * 40, "ALLOW_ORIGINS": "chat.example.test, www.example.test",
                "TRUSTED_PROXIES": "127.0.0.1/32"})

    result = subprocess.run(
        [sys.executable, "-m", "chatnio_host", "config", "show", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["allow_origins"]["value"] == ["chat.example.test", "www.example.test"]
    assert rows["trusted_proxies"]["value"] == ["127.0.0.1/32"]
