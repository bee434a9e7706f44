"""The objects one app instance shares between its routes and services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chatnio_host.clock import Clock
from chatnio_host.config import Settings
from chatnio_host.db.session import Database
from chatnio_host.plugins import PluginHost
from chatnio_host.site.store import SiteSettingsStore
from chatnio_host.state import SharedState

__all__ = ["AppContext"]


@dataclass
class AppContext:
    """Settings, database, shared state, plugins and per-concept services of one app."""

    settings: Settings
    db: Database
    state: SharedState
    plugins: PluginHost
    site: SiteSettingsStore
    clock: Clock = field(default_factory=Clock)
    services: dict[str, Any] = field(default_factory=dict)
    """Concept services by name (``auth``, ``billing``...), created in ``create_app``."""
    startup_tasks: list[Callable[["AppContext"], Awaitable[None]]] = field(default_factory=list)
    shutdown_tasks: list[Callable[["AppContext"], Awaitable[None]]] = field(default_factory=list)

    def service(self, name: str) -> Any:
        """Return the service registered under ``name``."""
        return self.services[name]
