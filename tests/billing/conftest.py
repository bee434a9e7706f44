"""The ``billed`` fixture: a started host with a fixed clock and the ledger invariant checked after each test."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from billing_helpers import check_ledger
from chatnio_host.clock import FixedClock
from chatnio_host.testing import TestHost


@pytest.fixture
async def billed(host: TestHost) -> AsyncIterator[TestHost]:
    """The ``host`` fixture with a fixed clock; checks the ledger invariant after the test."""
    host.ctx.clock = FixedClock(dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC))
    # Streams end within 10 minutes here, so holds become stale after the 15-minute default.
    host.ctx.settings.max_stream_duration = 540.0
    yield host
    await check_ledger(host)
