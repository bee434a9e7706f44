"""One test per hook (named test_hook_<name>), and meta-tests that keep hooks documented and tested."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest
from fastapi import APIRouter

from chatnio_host import (
    ChannelAdapter,
    ChannelType,
    FileParser,
    InboundFormat,
    PaymentProvider,
    SearchProvider,
    StartupError,
    hookimpl,
)
from chatnio_host import hookspecs
from chatnio_host.plugins import load_plugins
from chatnio_host.testing import TestHost

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HOOK_NAMES = sorted(
    name for name, value in vars(hookspecs).items()
    if callable(value) and hasattr(value, "chatnio_spec")
)


class _NullAdapter(ChannelAdapter):
    async def chat(self, request, target):  # type: ignore[no-untyped-def]
        if False:
            yield None


def plugin(**hooks: object) -> types.SimpleNamespace:
    """Build a plugin object from hook implementations."""
    return types.SimpleNamespace(**{name: hookimpl(function) for name, function in hooks.items()})


def test_hook_register_channel_types() -> None:
    def register_channel_types(register):  # type: ignore[no-untyped-def]
        register(ChannelType(name="null", adapter=_NullAdapter, template_models=("null-1",)))

    host = load_plugins(load_entry_points=False, extra_plugins=[("p", plugin(register_channel_types=register_channel_types))])

    assert host.registry.channel_types["null"].template_models == ("null-1",)
    assert host.report("p").registered == {"channel_types": ["null"]}


def test_hook_register_channel_types_rejects_wrong_object() -> None:
    def register_channel_types(register):  # type: ignore[no-untyped-def]
        register({"name": "dict-is-not-a-channel-type"})

    with pytest.raises(StartupError, match="must be a ChannelType"):
        load_plugins(load_entry_points=False, extra_plugins=[("p", plugin(register_channel_types=register_channel_types))])


def test_hook_register_inbound_formats(tmp_path: Path) -> None:
    def mount(app):  # type: ignore[no-untyped-def]
        @app.get("/v1/ping-format")
        async def ping() -> dict[str, str]:
            return {"format": "ping"}

    def register_inbound_formats(register):  # type: ignore[no-untyped-def]
        register(InboundFormat(name="ping", mount=mount))

    host = TestHost(tmp_path, plugins=[("p", plugin(register_inbound_formats=register_inbound_formats))])

    routes = {getattr(route, "path", None) for route in host.app.router.routes}
    assert "/v1/ping-format" in routes
    assert host.plugin_host.registry.inbound_formats["ping"].mount is mount


def test_hook_register_search_providers() -> None:
    async def search(query, settings, http):  # type: ignore[no-untyped-def]
        return []

    def register_search_providers(register):  # type: ignore[no-untyped-def]
        register(SearchProvider(name="nothing", search=search))

    host = load_plugins(load_entry_points=False, extra_plugins=[("p", plugin(register_search_providers=register_search_providers))])

    assert host.registry.search_providers["nothing"].search is search


def test_hook_register_file_parsers() -> None:
    def parse(data, filename):  # type: ignore[no-untyped-def]
        return None

    def register_file_parsers(register):  # type: ignore[no-untyped-def]
        register(FileParser(name="blob", parse=parse, extensions=(".blob",)))

    host = load_plugins(load_entry_points=False, extra_plugins=[("p", plugin(register_file_parsers=register_file_parsers))])

    assert host.registry.file_parsers["blob"].extensions == (".blob",)


def test_hook_register_payment_providers() -> None:
    async def create_checkout(**kwargs):  # type: ignore[no-untyped-def]
        return None

    def register_payment_providers(register):  # type: ignore[no-untyped-def]
        register(PaymentProvider(name="cash", create_checkout=create_checkout))

    def register_again(register):  # type: ignore[no-untyped-def]
        register(PaymentProvider(name="cash", create_checkout=create_checkout))

    first = ("a", plugin(register_payment_providers=register_payment_providers))
    second = ("b", plugin(register_payment_providers=register_again))

    assert "cash" in load_plugins(load_entry_points=False, extra_plugins=[first]).registry.payment_providers
    with pytest.raises(StartupError, match="'a' and 'b'"):
        load_plugins(load_entry_points=False, extra_plugins=[first, second])


async def test_hook_register_routes(tmp_path: Path) -> None:
    def register_routes(router: APIRouter, app):  # type: ignore[no-untyped-def]
        @router.post("/mj/notify-test")
        async def notify() -> dict[str, bool]:
            return {"received": True}

    async with TestHost(tmp_path, plugins=[("p", plugin(register_routes=register_routes))]) as host:
        response = await host.client.post("/mj/notify-test")

    assert response.status_code == 200
    assert response.json() == {"received": True}


def test_hook_settings_schema() -> None:
    def settings_schema():  # type: ignore[no-untyped-def]
        return {"type": "object", "properties": {"endpoint": {"type": "string"}}}

    host = load_plugins(load_entry_points=False, extra_plugins=[("p", plugin(settings_schema=settings_schema))])

    assert host.settings_schemas() == {"p": settings_schema()}


async def test_hook_startup(tmp_path: Path) -> None:
    calls: list[str] = []

    async def startup(app):  # type: ignore[no-untyped-def]
        calls.append(type(app).__name__)

    async with TestHost(tmp_path, plugins=[("p", plugin(startup=startup))]):
        assert calls == ["FastAPI"]


async def test_hook_shutdown(tmp_path: Path) -> None:
    calls: list[str] = []

    def shutdown(app):  # type: ignore[no-untyped-def]
        calls.append("shutdown")

    async with TestHost(tmp_path, plugins=[("p", plugin(shutdown=shutdown))]):
        assert calls == []

    assert calls == ["shutdown"]


def _documented_signatures() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    return {match.group(1): match.group(0) for match in re.finditer(r"^### `(\w+)\(([^)]*)\)`", text, re.M)}


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_every_hook_documented_with_signature(name: str) -> None:
    documented = _documented_signatures()
    arguments = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)

    assert name in documented, f"docs/plugins.md has no heading for the hook {name}"
    assert documented[name] == f"### `{name}({arguments})`"


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_every_hook_has_a_test(name: str) -> None:
    tests_root = Path(__file__).resolve().parents[1]
    pattern = re.compile(rf"\btest_hook_{name}\b")
    found = any(pattern.search(path.read_text(encoding="utf-8")) for path in tests_root.rglob("test_*.py"))

    assert found, f"no test named test_hook_{name}"
