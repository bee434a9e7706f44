"""The providers against fake DuckDuckGo API and SearXNG services on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from chatnio_host.plugins import load_plugins
from chatnio_host.testing_vendors import Reply
from chatnio_web_search.fakes import FakeDuckDuckGo, FakeSearXNG
from chatnio_web_search.providers import search_duckduckgo, search_searxng

DDG_RESULTS = [
    {"title": f"Result {i}", "link": f"https://example.test/{i}", "snippet": f"Snippet {i}"} for i in range(1, 9)
]
SEARX_RESULTS = [
    {"title": f"Searx {i}", "url": f"https://searx.test/{i}", "content": f"Content {i}", "engine": "x"}
    for i in range(1, 9)
]


async def test_duckduckgo_results() -> None:
    async with FakeDuckDuckGo(DDG_RESULTS) as server, httpx.AsyncClient() as http:
        results = await search_duckduckgo("pancakes", {"endpoint": server.url, "max_results": 3}, http)
        assert [r.title for r in results] == ["Result 1", "Result 2", "Result 3"]
        assert results[0].url == "https://example.test/1"
        assert results[0].snippet == "Snippet 1"
        assert server.requests[0].path == "/search"
        assert server.requests[0].query_value("q") == "pancakes"
        assert server.requests[0].query_value("max_results") == "3"


async def test_duckduckgo_zero_means_five() -> None:
    async with FakeDuckDuckGo(DDG_RESULTS) as server, httpx.AsyncClient() as http:
        results = await search_duckduckgo("q", {"endpoint": server.url + "/", "max_results": 0}, http)
        assert len(results) == 5
        assert server.requests[0].query_value("max_results") == "5"


async def test_searxng_results() -> None:
    async with FakeSearXNG(SEARX_RESULTS) as server, httpx.AsyncClient() as http:
        settings = {"endpoint": server.url + "/search", "max_results": 2, "safe_search": 2, "engines": "bing"}
        results = await search_searxng("pancakes", settings, http)
        assert [(r.title, r.url, r.snippet) for r in results] == [
            ("Searx 1", "https://searx.test/1", "Content 1"),
            ("Searx 2", "https://searx.test/2", "Content 2"),
        ]
        request = server.requests[0]
        assert request.path == "/search"
        assert request.query_value("format") == "json"
        assert request.query_value("safesearch") == "2"
        assert request.query_value("engines") == "bing"


async def test_provider_errors_raise() -> None:
    async with FakeSearXNG(SEARX_RESULTS) as server, httpx.AsyncClient() as http:
        server.enqueue(Reply.error(500, "boom"))
        with pytest.raises(httpx.HTTPStatusError):
            await search_searxng("q", {"endpoint": server.url}, http)
        server.enqueue(Reply.stalled())
        with pytest.raises(httpx.TimeoutException):
            await search_searxng("q", {"endpoint": server.url, "timeout": 0.5}, http)


async def test_searxng_without_json_format() -> None:
    async with FakeSearXNG(SEARX_RESULTS) as server, httpx.AsyncClient() as http:
        server.enqueue(Reply.json({"unexpected": True}))
        with pytest.raises(ValueError, match="json format"):
            await search_searxng("q", {"endpoint": server.url}, http)


def test_entry_point_registers_providers() -> None:
    host = load_plugins(only={"web_search"})
    report = host.report("web_search")
    assert report is not None
    assert report.status == "loaded", report.reason
    assert report.distribution == "chatnio-web-search"
    assert sorted(report.registered["search_providers"]) == ["duckduckgo", "searxng"]


def test_cli_lists_providers() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CHATNIO_LOAD_PLUGINS": "web_search"}
    result = subprocess.run(
        [sys.executable, "-m", "chatnio_host", "plugins"], capture_output=True, text=True, env=env, check=True
    )
    assert "web_search (chatnio-web-search" in result.stdout
    assert "search_providers: duckduckgo, searxng" in result.stdout
