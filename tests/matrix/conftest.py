"""Fixtures of the conversion matrix: one host with the openai, claude and gemini plugins."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from matrix_world import MatrixSite, open_site


@pytest.fixture
async def site(stack: str, tmp_path: Path, server_databases: Any) -> AsyncIterator[MatrixSite]:
    async with contextlib.AsyncExitStack() as stack_:
        yield await stack_.enter_async_context(open_site(stack, tmp_path, server_databases))
