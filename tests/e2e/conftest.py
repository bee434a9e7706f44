"""End-to-end fixtures: the live site and one headless Chromium for the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from e2e_site import CHROMIUM, CHROMIUM_ARGS, LiveSite, missing_requirement


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    missing = missing_requirement()
    if missing:
        pytest.skip(missing)
    live = LiveSite(tmp_path_factory.mktemp("e2e"))
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def browser(site: LiveSite) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()
