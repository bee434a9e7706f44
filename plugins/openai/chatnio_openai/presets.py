"""Data-only channel types for OpenAI-compatible vendors.

A preset is one JSON (or YAML) object; each becomes a registered ``ChannelType`` backed by the
``OpenAIAdapter``. The plugin ships ``presets.json``; an operator or a third party adds more by
listing files in ``CHATNIO_OPENAI_PRESETS`` (separated by the OS path separator, ``:`` on
Linux), without code. Fields:

* ``name`` (required): the channel type value, such as ``deepseek``.
* ``label``, ``description``: shown in the admin UI.
* ``default_endpoint``: the base URL used when a channel leaves its endpoint blank.
* ``api_path``: appended to an endpoint without a version path (default ``/v1``).
* ``auth``: ``bearer`` (``Authorization: Bearer <key>``, the default), ``api-key``
  (``api-key: <key>``), ``x-api-key``, or ``{"header": ..., "scheme": ...}``.
* ``template_models``: the models an admin can fill a new channel with.
* ``settings``: other defaults of the ``openai`` settings (``stream_usage``...).
"""

from __future__ import annotations

import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chatnio_host import ChannelType, ConfigError

from chatnio_openai.adapter import SETTINGS_SCHEMA, OpenAIAdapter

__all__ = ["PRESETS_ENV", "load_presets", "preset_channel_type", "read_preset_file"]

logger = logging.getLogger(__name__)

PRESETS_ENV = "CHATNIO_OPENAI_PRESETS"

_AUTH_STYLES: dict[str, tuple[str, str]] = {
    "bearer": ("Authorization", "Bearer"),
    "api-key": ("api-key", ""),
    "x-api-key": ("x-api-key", ""),
}
_FIELDS = {"name", "label", "description", "default_endpoint", "api_path", "auth", "template_models", "settings"}


def _auth(value: Any, source: str, name: str) -> tuple[str, str]:
    if value is None:
        return _AUTH_STYLES["bearer"]
    if isinstance(value, str) and value.lower() in _AUTH_STYLES:
        return _AUTH_STYLES[value.lower()]
    if isinstance(value, dict) and isinstance(value.get("header"), str) and value["header"].strip():
        return value["header"].strip(), str(value.get("scheme") or "")
    raise ConfigError(
        f"Preset {name!r} in {source}: 'auth' must be bearer, api-key, x-api-key or "
        f"{{\"header\": ..., \"scheme\": ...}}, not {value!r}."
    )


def preset_channel_type(preset: dict[str, Any], source: str = "presets.json") -> ChannelType:
    """Return the ``ChannelType`` described by one preset object; raise ``ConfigError`` when invalid."""
    name = preset.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"A preset in {source} has no 'name'; give each preset a channel type name.")
    unknown = set(preset) - _FIELDS
    if unknown:
        raise ConfigError(f"Preset {name!r} in {source} has unknown fields {sorted(unknown)}; "
                          f"known fields are {sorted(_FIELDS)}.")
    models = preset.get("template_models") or []
    if not isinstance(models, list) or not all(isinstance(model, str) for model in models):
        raise ConfigError(f"Preset {name!r} in {source}: 'template_models' must be a list of model names.")
    header, scheme = _auth(preset.get("auth"), source, name)
    extra = preset.get("settings") or {}
    if not isinstance(extra, dict):
        raise ConfigError(f"Preset {name!r} in {source}: 'settings' must be an object.")
    defaults = {**extra, "auth_header": header, "auth_scheme": scheme,
                "api_path": str(preset.get("api_path") or "/v1")}
    label = str(preset.get("label") or name)
    description = str(preset.get("description") or f"{label} through its OpenAI-compatible API.")
    return ChannelType(
        name=name.strip(),
        adapter=OpenAIAdapter,
        label=label,
        settings_schema=SETTINGS_SCHEMA,
        template_models=tuple(models),
        default_endpoint=str(preset.get("default_endpoint") or ""),
        description=description,
        defaults=defaults,
    )


def read_preset_file(path: Path) -> list[dict[str, Any]]:
    """Read a JSON or YAML file that contains a list of presets."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"The preset file {path} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ConfigError(f"The preset file {path} must hold a list of preset objects.")
    return data


def load_presets(environ: dict[str, str] | None = None) -> list[ChannelType]:
    """Return the shipped presets followed by those of the files in ``CHATNIO_OPENAI_PRESETS``."""
    shipped = json.loads(resources.files("chatnio_openai").joinpath("presets.json").read_text(encoding="utf-8"))
    types = [preset_channel_type(preset) for preset in shipped]
    environ = os.environ if environ is None else environ
    for entry in (environ.get(PRESETS_ENV) or "").split(os.pathsep):
        if not entry.strip():
            continue
        path = Path(entry.strip())
        if not path.is_file():
            raise ConfigError(f"{PRESETS_ENV} names {path}, which is not a file; fix or remove that entry.")
        presets = read_preset_file(path)
        types.extend(preset_channel_type(preset, str(path)) for preset in presets)
        logger.info("loaded %d OpenAI-compatible presets from %s", len(presets), path)
    return types
