"""Plugin loading: the host's default plugins, then every entry point of the ``chatnio`` group.

A plugin that fails to import or to register is logged with its traceback, reported as
``failed`` and skipped, so one broken package never takes the site down. Two plugins that
register the same name, or a hook implementation that matches no specification, stop startup.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import inspect
import logging
import os
import traceback
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pluggy
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from chatnio_host import hookspecs
from chatnio_host.errors import StartupError
from chatnio_host.registry import REGISTRATION_KINDS, Registry
from chatnio_host.version import __version__

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginHost",
    "PluginReport",
    "load_plugins",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "chatnio"
HOST_DISTRIBUTION = "chatnio-host"

# Host behaviour written as hook implementations; always loaded, whatever CHATNIO_LOAD_PLUGINS says.
DEFAULT_PLUGINS: tuple[str, ...] = ()


@dataclass
class PluginReport:
    """One row of ``chatnio plugins``: what a plugin is, what it did and whether it loaded."""

    name: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    status: str = "loaded"
    reason: str | None = None
    default: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return asdict(self)


@dataclass
class PluginHost:
    """The plugin manager, what the plugins registered, and a report per plugin."""

    pm: pluggy.PluginManager
    registry: Registry
    reports: list[PluginReport]

    def report(self, name: str) -> PluginReport | None:
        """Return the report of the plugin called ``name``."""
        for report in self.reports:
            if report.name == name:
                return report
        return None

    def settings_schemas(self) -> dict[str, dict[str, Any]]:
        """Return each plugin's own settings schema, keyed by plugin name."""
        schemas: dict[str, dict[str, Any]] = {}
        for impl in self.pm.hook.settings_schema.get_hookimpls():
            schema = impl.function()
            if schema:
                schemas[impl.plugin_name] = schema
        return schemas


def parse_load_list(value: str | None) -> set[str] | None:
    """Parse ``CHATNIO_LOAD_PLUGINS``: None when unset, an empty set for an empty value."""
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _host_version_mismatch(dist: metadata.Distribution | None) -> str | None:
    """Return a message when ``dist`` declares a chatnio-host requirement this host fails."""
    if dist is None:
        return None
    for line in dist.requires or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.name.lower().replace("_", "-") != HOST_DISTRIBUTION:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        if requirement.specifier and not requirement.specifier.contains(
            Version(__version__), prereleases=True
        ):
            return (
                f"requires {HOST_DISTRIBUTION}{requirement.specifier}, "
                f"but the running host is {__version__}"
            )
    return None


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])


def _check_unknown_hooks(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    """Raise StartupError when ``plugin`` implements a hook that has no specification."""
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.spec is None:
            message = (
                f"Plugin {name!r} implements {caller.name!r}, which is not a chatnio hook. "
                "Check the spelling against docs/plugins.md."
            )
            raise StartupError(message)


def _collect(pm: pluggy.PluginManager, name: str) -> list[tuple[str, Any]]:
    """Call every ``register_*`` hook of one plugin and return what it registered."""
    collected: list[tuple[str, Any]] = []
    for kind in REGISTRATION_KINDS:
        hook = getattr(pm.hook, f"register_{kind}")
        for impl in hook.get_hookimpls():
            if impl.plugin_name != name:
                continue

            def register(item: Any, _kind: str = kind) -> None:
                collected.append((_kind, item))

            kwargs = {"register": register} if "register" in impl.argnames else {}
            impl.function(**kwargs)
    return collected


def _iter_entry_points() -> Iterable[metadata.EntryPoint]:
    seen: set[str] = set()
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in seen:
            continue
        seen.add(entry_point.name)
        yield entry_point


def load_plugins(
    *,
    load_entry_points: bool = True,
    only: set[str] | None = None,
    extra_plugins: Iterable[tuple[str, object]] = (),
) -> PluginHost:
    """Build the plugin manager and the registry.

    ``only`` narrows entry-point plugins (``CHATNIO_LOAD_PLUGINS``): None loads all of them, an
    empty set loads none. ``extra_plugins`` registers ``(name, object)`` pairs as if installed,
    which is how tests add a plugin for one app.
    """
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("CHATNIO_TRACE_PLUGINS"):
        pm.add_hookcall_monitoring(
            lambda hook_name, impls, kwargs: logger.debug(
                "hook %s called on %s", hook_name, [impl.plugin_name for impl in impls]
            ),
            lambda outcome, hook_name, impls, kwargs: None,
        )

    reports: list[PluginReport] = []
    candidates: list[tuple[PluginReport, object]] = []

    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        report = PluginReport(name=module_name, distribution=HOST_DISTRIBUTION, version=__version__, default=True)
        candidates.append((report, module))

    if load_entry_points:
        for entry_point in _iter_entry_points():
            dist = entry_point.dist
            report = PluginReport(
                name=entry_point.name,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            reports.append(report)
            if only is not None and entry_point.name not in only and report.distribution not in only:
                report.status = "skipped"
                report.reason = "not listed in CHATNIO_LOAD_PLUGINS"
                continue
            mismatch = _host_version_mismatch(dist)
            if mismatch is not None:
                report.status = "skipped"
                report.reason = mismatch
                logger.warning("plugin %s skipped: %s", entry_point.name, mismatch)
                continue
            try:
                plugin = entry_point.load()
            except Exception as exc:  # noqa: BLE001 - any import failure must not stop the host
                report.status = "failed"
                report.reason = f"import failed: {type(exc).__name__}: {exc}"
                logger.error(
                    "plugin %s failed to import and is skipped:\n%s",
                    entry_point.name,
                    traceback.format_exc(),
                )
                continue
            candidates.append((report, plugin))

    for name, plugin in extra_plugins:
        candidates.append((PluginReport(name=name), plugin))

    registry = Registry()
    for report, plugin in candidates:
        if report not in reports:
            reports.append(report)
        try:
            pm.register(plugin, name=report.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            report.status = "failed"
            report.reason = f"registration failed: {exc}"
            logger.error("plugin %s failed to register and is skipped: %s", report.name, exc)
            continue
        _check_unknown_hooks(pm, report.name, plugin)
        report.hooks = _hooks_of(pm, plugin)
        try:
            collected = _collect(pm, report.name)
        except Exception as exc:  # noqa: BLE001 - a plugin's register hook may raise anything
            pm.unregister(plugin)
            report.status = "failed"
            report.reason = f"register hook failed: {type(exc).__name__}: {exc}"
            logger.error(
                "plugin %s failed while registering and is skipped:\n%s",
                report.name,
                traceback.format_exc(),
            )
            continue
        for kind, item in collected:
            try:
                registry.add(kind, item, report.name)
            except TypeError as exc:
                raise StartupError(str(exc)) from exc
        report.registered = registry.names_by_plugin(report.name)
        logger.info("plugin %s loaded (%s)", report.name, ", ".join(report.hooks) or "no hooks")

    pm.check_pending()
    return PluginHost(pm=pm, registry=registry, reports=reports)


async def call_async_hook(results: list[Any]) -> list[Any]:
    """Await any awaitable among hook results, in order."""
    awaited = []
    for result in results:
        if inspect.isawaitable(result):
            result = await result
        awaited.append(result)
    return awaited
