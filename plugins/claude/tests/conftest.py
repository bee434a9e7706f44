"""Fixtures: the fake Anthropic vendor and the host's real upstream client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatnio_host.channels.base import UpstreamTarget
from chatnio_host.relay.upstream import AiohttpUpstream
from chatnio_host.testing import make_settings
from chatnio_host.testing_vendors.anthropic import FakeAnthropic

VENDOR_KEY = "sk-ant-test-0123456789abcdef"


@pytest.fixture
async def vendor() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic(keys=[VENDOR_KEY]) as fake:
        yield fake


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[AiohttpUpstream]:
    client = AiohttpUpstream(make_settings(tmp_path, first_byte_timeout=5, idle_timeout=5))
    await client.start()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def target(vendor: FakeAnthropic) -> UpstreamTarget:
    return UpstreamTarget(channel_id=7, channel_type="claude", endpoint=vendor.url, key=VENDOR_KEY,
                          model="claude-sonnet-4-5")
