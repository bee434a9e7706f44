"""Fixtures: a fake OpenAI vendor on 127.0.0.1, the host's upstream client, and the adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatnio_host.relay.upstream import AiohttpUpstream
from chatnio_host.testing import make_settings
from chatnio_host.testing_vendors import FakeOpenAI

from chatnio_openai import channel_types

@pytest.fixture
async def vendor() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[AiohttpUpstream]:
    settings = make_settings(tmp_path, first_byte_timeout=1.0, idle_timeout=1.0, max_stream_duration=4.0)
    client = AiohttpUpstream(settings)
    await client.start()
    yield client
    await client.close()


@pytest.fixture
def types():
    return {channel_type.name: channel_type for channel_type in channel_types()}


@pytest.fixture
def adapter_for(upstream: AiohttpUpstream, types):
    def build(type_name: str = "openai"):
        channel_type = types[type_name]
        return channel_type.adapter(upstream, channel_type=channel_type)

    return build
