"""Fixtures of the conversion matrix: one host with the openai, claude and gemini plugins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from matrix_world import MatrixSite, open_site


@pytest.fixture
async def site(stack: str, tmp_path: Path, server_databases: Any) -> AsyncIterator[MatrixSite]:
    """A started host on ``stack`` with a channel of each type and a funded API key."""
    async with open_site(stack, tmp_path, server_databases) as matrix_site:
        yield matrix_site
