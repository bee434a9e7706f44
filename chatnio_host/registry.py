"""What plugins register through the ``register_*`` hooks, and the registry that holds it.

Each registration is a small frozen dataclass with a ``name``. The host records which plugin
registered each name, so two plugins that claim the same name stop startup with an error that
names both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chatnio_host.errors import StartupError

__all__ = [
    "ChannelType",
    "FileParser",
    "InboundFormat",
    "PaymentProvider",
    "Registry",
    "SearchProvider",
]


@dataclass(frozen=True)
class ChannelType:
    """A vendor adapter: a channel ``type`` value and the class that talks to that vendor.

    ``adapter`` is a subclass of :class:`chatnio_host.channels.base.ChannelAdapter`.
    ``settings_schema`` is a JSON Schema for the channel's type-specific settings.
    ``auth_header`` and ``auth_scheme`` describe how a key is sent (for data-only presets).
    """

    name: str
    adapter: type
    label: str = ""
    settings_schema: dict[str, Any] = field(default_factory=dict)
    template_models: tuple[str, ...] = ()
    default_endpoint: str = ""
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundFormat:
    """A client-facing API format; ``mount(app)`` adds its routes to the FastAPI app."""

    name: str
    mount: Callable[[Any], None]
    description: str = ""


@dataclass(frozen=True)
class SearchProvider:
    """A web search backend.

    ``search(query, settings, http)`` returns a list of ``SearchResult`` and raises on failure;
    ``settings_schema`` describes its per-provider settings as JSON Schema.
    """

    name: str
    search: Callable[..., Awaitable[list[Any]]]
    label: str = ""
    settings_schema: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileParser:
    """An upload parser for the given extensions and MIME types.

    ``parse(data, filename)`` returns a ``ParsedFile``; it may be sync (run in a thread).
    """

    name: str
    parse: Callable[..., Any]
    extensions: tuple[str, ...] = ()
    mime_types: tuple[str, ...] = ()
    priority: int = 0


@dataclass(frozen=True)
class PaymentProvider:
    """A checkout provider that credits points when a payment completes."""

    name: str
    create_checkout: Callable[..., Awaitable[Any]]
    label: str = ""
    settings_schema: dict[str, Any] = field(default_factory=dict)


REGISTRATION_KINDS: dict[str, type] = {
    "channel_types": ChannelType,
    "inbound_formats": InboundFormat,
    "search_providers": SearchProvider,
    "file_parsers": FileParser,
    "payment_providers": PaymentProvider,
}


@dataclass
class Registry:
    """Everything registered by the loaded plugins, by kind and name."""

    channel_types: dict[str, ChannelType] = field(default_factory=dict)
    inbound_formats: dict[str, InboundFormat] = field(default_factory=dict)
    search_providers: dict[str, SearchProvider] = field(default_factory=dict)
    file_parsers: dict[str, FileParser] = field(default_factory=dict)
    payment_providers: dict[str, PaymentProvider] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, kind: str, item: Any, plugin: str) -> None:
        """Add ``item`` of ``kind`` registered by ``plugin``; raise on a duplicate name."""
        expected = REGISTRATION_KINDS[kind]
        if not isinstance(item, expected):
            message = (
                f"Plugin {plugin!r} registered {item!r} as one of {kind}, "
                f"but it must be a {expected.__name__}."
            )
            raise TypeError(message)
        name = item.name
        if not isinstance(name, str) or not name:
            raise TypeError(f"Plugin {plugin!r} registered a {expected.__name__} without a name.")
        owner = self.owners.get((kind, name))
        if owner is not None:
            message = (
                f"Plugins {owner!r} and {plugin!r} both register the {kind[:-1].replace('_', ' ')} "
                f"{name!r}; uninstall one of them or narrow CHATNIO_LOAD_PLUGINS."
            )
            raise StartupError(message)
        getattr(self, kind)[name] = item
        self.owners[(kind, name)] = plugin

    def names_by_plugin(self, plugin: str) -> dict[str, list[str]]:
        """Return what ``plugin`` registered, as kind -> names."""
        result: dict[str, list[str]] = {}
        for (kind, name), owner in self.owners.items():
            if owner == plugin:
                result.setdefault(kind, []).append(name)
        return result
