"""Process settings: defaults, then ``config/config.yaml``, then environment variables.

These are the settings a process needs before it can reach the database. What an admin changes
at run time (site name, prices, SMTP) lives in the database instead (``chatnio_host.site``).

Chat Nio's own names are accepted too: ``MYSQL_HOST/PORT/USER/PASSWORD/DB`` build
``DATABASE_URL`` and ``REDIS_HOST/PORT/PASSWORD/DB`` build ``REDIS_URL``, as do the nested
``mysql:`` and ``redis:`` sections of the YAML file. An empty environment variable counts as unset.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import yaml
from pydantic import Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chatnio_host.errors import ConfigError

__all__ = ["SECRET_FIELDS", "Settings", "load_settings", "mask_value"]

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = "config/config.yaml"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/chatnio.db"

# Fields whose values are never printed or logged in clear.
SECRET_FIELDS = frozenset({"secret", "encryption_key", "root_password", "database_url", "redis_url"})


class Settings(BaseSettings):
    """Settings of one host process. Field names are the lower-case environment names."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _config_path: str = PrivateAttr(DEFAULT_CONFIG_PATH)

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy async URL: sqlite+aiosqlite, postgresql+asyncpg or mysql+aiomysql.",
    )
    redis_url: str | None = Field(
        None, description="redis:// URL of the shared state; unset runs it in process (one replica)."
    )
    secret: SecretStr | None = Field(
        None, description="Signs session tokens; generated into the data folder when unset."
    )
    encryption_key: SecretStr | None = Field(
        None,
        description="CHATNIO_ENCRYPTION_KEY: key for vendor keys at rest; derived from SECRET when unset.",
    )
    root_password: SecretStr | None = Field(
        None, description="Password of the root admin created at first start (default chatnio123456)."
    )
    serve_static: bool = Field(True, description="Serve the built web app from ui/dist.")
    static_dir: str = Field("ui/dist", description="Folder of the built web app.")
    host: str = Field("0.0.0.0", description="Address to listen on.")
    port: int = Field(8094, ge=1, le=65535, description="TCP port to listen on.")
    allow_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed on the web API, by exact host or dot suffix; empty allows any.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs whose X-Forwarded-For is trusted when finding the client IP.",
    )
    log_level: str = Field("INFO", description="Python logging level name.")
    log_format: Literal["text", "json"] = Field("text", description="text, or json for one JSON object per line.")
    data_dir: str = Field("data", description="Folder for the SQLite file, the generated secret and uploads.")
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="Largest request body in bytes.")
    first_byte_timeout: float = Field(
        60.0, gt=0, description="Seconds to wait for an upstream's first event before trying the next channel."
    )
    idle_timeout: float = Field(
        120.0, gt=0, description="Seconds of upstream silence after the first event that end a stream."
    )
    max_stream_duration: float = Field(1800.0, gt=0, description="Longest upstream stream in seconds.")
    sse_max_event_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest single upstream SSE event in bytes."
    )
    auto_migrate: bool | None = Field(
        None,
        description="Apply migrations at start; defaults to on for SQLite and off for server databases.",
    )
    hold_max_age_seconds: float = Field(
        900.0, gt=0, description="Seconds after which reconciliation releases a request's unsettled points hold."
    )
    hold_reconcile_interval_seconds: float = Field(
        300.0, gt=0, description="Seconds between two runs of the stale-hold reconciliation."
    )
    fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names (or IP literals) that fetches of user-supplied URLs may reach even when they "
                    "resolve to private or loopback addresses; comma-separated in the environment.",
    )
    fetch_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest body in bytes that a fetch of a user-supplied URL reads."
    )
    fetch_timeout: float = Field(15.0, gt=0, description="Seconds a fetch of a user-supplied URL may take in total.")

    @classmethod
    def settings_customise_sources(cls, settings_cls: Any, init_settings: Any, **_sources: Any) -> tuple[Any, ...]:
        """Use only the values ``load_settings`` gathers, which already include the environment."""
        return (init_settings,)

    @field_validator("allow_origins", "trusted_proxies", "fetch_allow_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in logging.getLevelNamesMapping():
            raise ValueError(f"LOG_LEVEL {value!r} is not a logging level such as INFO or DEBUG")
        return upper

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is an embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def secret_value(self) -> str:
        """Return the signing secret; ``load_settings`` always sets one."""
        if self.secret is None:
            raise ConfigError("SECRET is not set; build settings with load_settings().")
        return self.secret.get_secret_value()


ENV_NAMES: dict[str, tuple[str, ...]] = {
    "encryption_key": ("CHATNIO_ENCRYPTION_KEY", "ENCRYPTION_KEY"),
    "port": ("PORT", "SERVER_PORT"),
}


def _env_names(field: str) -> tuple[str, ...]:
    return ENV_NAMES.get(field, (field.upper(),))


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, not {type(data).__name__}.")
    return data


def _mysql_url(host: str, port: Any, user: Any, password: Any, database: Any) -> str:
    auth = quote(str(user or "root"), safe="")
    if password:
        auth += ":" + quote(str(password), safe="")
    return f"mysql+aiomysql://{auth}@{host}:{port or 3306}/{database or 'chatnio'}"


def _redis_url(host: str, port: Any, password: Any, database: Any) -> str:
    auth = f":{quote(str(password), safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port or 6379}/{database or 0}"


def _file_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten the YAML file into field values, including Chat Nio's nested sections."""
    values: dict[str, Any] = {}
    fields = Settings.model_fields
    for key, value in data.items():
        if key in fields and value not in (None, ""):
            values[key] = value
    mysql = data.get("mysql")
    if isinstance(mysql, dict) and mysql.get("host") and "database_url" not in values:
        values["database_url"] = _mysql_url(
            mysql["host"], mysql.get("port"), mysql.get("user"), mysql.get("password"),
            mysql.get("db") or mysql.get("database"),
        )
    redis = data.get("redis")
    if isinstance(redis, dict) and redis.get("host") and "redis_url" not in values:
        values["redis_url"] = _redis_url(redis["host"], redis.get("port"), redis.get("password"), redis.get("db"))
    server = data.get("server")
    if isinstance(server, dict) and server.get("port") and "port" not in values:
        values["port"] = server["port"]
    return values


def _env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read field values from the environment; empty variables count as unset."""
    values: dict[str, Any] = {}
    for field in Settings.model_fields:
        for name in _env_names(field):
            raw = environ.get(name)
            if raw not in (None, ""):
                values[field] = raw
                break
    if "database_url" not in values and environ.get("MYSQL_HOST"):
        values["database_url"] = _mysql_url(
            environ["MYSQL_HOST"], environ.get("MYSQL_PORT"), environ.get("MYSQL_USER"),
            environ.get("MYSQL_PASSWORD"), environ.get("MYSQL_DB") or environ.get("MYSQL_DATABASE"),
        )
    if "redis_url" not in values and environ.get("REDIS_HOST"):
        values["redis_url"] = _redis_url(
            environ["REDIS_HOST"], environ.get("REDIS_PORT"), environ.get("REDIS_PASSWORD"),
            environ.get("REDIS_DB"),
        )
    return values


def _ensure_secret(data_dir: Path) -> str:
    """Read the generated secret from the data folder, creating it (mode 0600) at first start."""
    path = data_dir / "secret"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    logger.warning(
        "SECRET is not set; generated one into %s. Set SECRET to share sessions between replicas.", path
    )
    return value


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    *,
    generate_secret: bool = True,
    **overrides: Any,
) -> Settings:
    """Build Settings from defaults, the YAML file, the environment and ``overrides``.

    The result carries ``sources``: field name -> ``default``, ``file``, ``environment``,
    ``generated`` or ``argument``, which ``chatnio config show`` prints.
    """
    environ = os.environ if environ is None else environ
    path = Path(config_path or environ.get("CHATNIO_CONFIG") or DEFAULT_CONFIG_PATH)
    file_values = _file_values(_read_yaml(path))
    env_values = _env_values(environ)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {field: "default" for field in Settings.model_fields}
    for layer, name in ((file_values, "file"), (env_values, "environment"), (overrides, "argument")):
        for key, value in layer.items():
            values[key] = value
            sources[key] = name

    try:
        settings = Settings.model_validate(values)
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc

    if settings.secret is None and generate_secret:
        settings.secret = SecretStr(_ensure_secret(Path(settings.data_dir)))
        sources["secret"] = "generated"
    settings._sources = sources
    settings._config_path = str(path)
    return settings


def settings_sources(settings: Settings) -> dict[str, str]:
    """Return where each setting came from."""
    return dict(settings._sources)


def mask_value(field: str, value: Any) -> Any:
    """Mask a secret value for display, keeping at most its last four characters."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return None
    if field in ("database_url", "redis_url"):
        return _mask_url_password(str(value))
    if field in SECRET_FIELDS:
        text = str(value)
        return "****" + text[-4:] if len(text) > 8 else "****"
    return value


def _mask_url_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':****' if colon else ''}@{host}"
