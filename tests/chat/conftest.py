"""Fixtures of the chat tests: a host with the openai plugin on each stack."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from chatnio_host.testing import TestHost

HostFactory = Callable[..., contextlib.AbstractAsyncContextManager[TestHost]]


@pytest.fixture
def open_host(stack_host: HostFactory) -> HostFactory:
    """Return a factory: ``async with open_host() as host`` with the openai plugin registered."""
    import chatnio_openai

    @contextlib.asynccontextmanager
    async def factory(**settings: Any) -> AsyncIterator[TestHost]:
        async with stack_host(plugins=[("openai", chatnio_openai)], **settings) as test_host:
            yield test_host

    return factory
