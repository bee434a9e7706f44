"""Every site settings section by name, with the pydantic model that validates it."""

from __future__ import annotations

import importlib
import logging

from pydantic import BaseModel

__all__ = ["WRITE_ONLY_FIELDS", "section_models"]

logger = logging.getLogger(__name__)

# section -> (module, model class); a section whose module is missing is left out.
SECTIONS: dict[str, tuple[str, str]] = {
    "general": ("chatnio_host.site.general", "GeneralSettings"),
    "auth": ("chatnio_host.auth.settings", "AuthSettings"),
    "mail": ("chatnio_host.auth.settings", "MailSettings"),
    "billing": ("chatnio_host.billing.settings", "BillingConfig"),
    "subscription": ("chatnio_host.billing.settings", "SubscriptionConfig"),
    "channels": ("chatnio_host.channels.settings", "ChannelSettings"),
    "files": ("chatnio_host.files.settings", "FileSettings"),
    "search": ("chatnio_host.search.settings", "SearchSettings"),
    "cache": ("chatnio_host.relay.cache", "CacheSettings"),
}

WRITE_ONLY_FIELDS: dict[str, tuple[str, ...]] = {"mail": ("password",)}
"""Fields never returned by the API; an empty value on save keeps the stored one."""


def section_models() -> dict[str, type[BaseModel]]:
    """Return the model of every installed section."""
    models: dict[str, type[BaseModel]] = {}
    for section, (module_name, class_name) in SECTIONS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            logger.debug("site settings section %s unavailable: %s not importable", section, module_name)
            continue
        model = getattr(module, class_name, None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            models[section] = model
    return models
