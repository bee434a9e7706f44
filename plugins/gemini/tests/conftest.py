"""Fixtures: the fake Gemini vendor and the host's real upstream client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatnio_host.channels.base import UpstreamTarget
from chatnio_host.relay.upstream import AiohttpUpstream
from chatnio_host.testing import make_settings
from chatnio_host.testing_vendors.gemini import FakeGemini

VENDOR_KEY = "AIzaSyTest-0123456789abcdefghij"


@pytest.fixture
async def vendor() -> AsyncIterator[FakeGemini]:
    async with FakeGemini(keys=[VENDOR_KEY]) as fake:
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
def target(vendor: FakeGemini) -> UpstreamTarget:
    return UpstreamTarget(channel_id=9, channel_type="gemini", endpoint=vendor.url, key=VENDOR_KEY,
                          model="gemini-2.5-flash")
