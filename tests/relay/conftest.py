"""Fixtures of the relay tests: a host factory with the scripted and openai channel types."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from chatnio_host.testing import TestHost
from relay_scripted import SCRIPTS, ScriptedPlugin

HostFactory = Callable[..., contextlib.AbstractAsyncContextManager[TestHost]]


def _plugins() -> list[tuple[str, object]]:
    plugins: list[tuple[str, object]] = [("scripted", ScriptedPlugin())]
    try:
        import chatnio_openai
    except ImportError:
        return plugins
    plugins.append(("openai", chatnio_openai))
    return plugins


@pytest.fixture
def open_host(stack_host: HostFactory) -> HostFactory:
    """Return a factory: ``async with open_host(first_byte_timeout=2) as host`` on the stack."""

    @contextlib.asynccontextmanager
    async def factory(**settings: Any) -> AsyncIterator[TestHost]:
        SCRIPTS.by_channel.clear()
        SCRIPTS.calls.clear()
        SCRIPTS.requests.clear()
        SCRIPTS.outcomes.clear()
        async with stack_host(plugins=_plugins(), **settings) as test_host:
            yield test_host

    return factory
