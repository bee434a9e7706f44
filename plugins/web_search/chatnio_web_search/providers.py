"""The DuckDuckGo API and SearXNG providers: one GET each, parsed into ``SearchResult`` values."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from chatnio_host import SearchResult

__all__ = ["DUCKDUCKGO_SCHEMA", "SEARXNG_SCHEMA", "search_duckduckgo", "search_searxng"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESULTS = 5

_COMMON_PROPERTIES: dict[str, Any] = {
    "endpoint": {
        "type": "string",
        "pattern": "^https?://",
        "description": "Base URL of the service, such as http://127.0.0.1:8000; /search is added.",
    },
    "max_results": {
        "type": "integer",
        "default": DEFAULT_MAX_RESULTS,
        "description": "Results given to the model; 0 or less means 5.",
    },
    "timeout": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 120,
        "default": 10,
        "description": "Seconds to wait for the search service.",
    },
    "safe_search": {
        "type": "integer",
        "enum": [0, 1, 2],
        "default": 1,
        "description": "0 off, 1 moderate, 2 strict.",
    },
}

DUCKDUCKGO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": dict(_COMMON_PROPERTIES),
    "required": ["endpoint"],
    "additionalProperties": False,
}

SEARXNG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_COMMON_PROPERTIES,
        "engines": {"type": "string", "default": "", "description": "Comma-separated SearXNG engines; empty uses the defaults."},
        "language": {"type": "string", "default": "", "description": "Search language such as en or zh-CN; empty for all."},
    },
    "required": ["endpoint"],
    "additionalProperties": False,
}


def _search_url(endpoint: str) -> str:
    base = endpoint.strip().rstrip("/")
    return base if base.endswith("/search") else f"{base}/search"


def _max_results(settings: dict[str, Any]) -> int:
    value = int(settings.get("max_results") or 0)
    return value if value > 0 else DEFAULT_MAX_RESULTS


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


async def _get_json(http: httpx.AsyncClient, settings: dict[str, Any], params: dict[str, Any]) -> Any:
    endpoint = settings.get("endpoint")
    if not endpoint:
        raise ValueError("the search provider has no endpoint; set it in the admin search settings")
    response = await http.get(_search_url(endpoint), params=params, timeout=float(settings.get("timeout") or 10))
    response.raise_for_status()
    return response.json()


async def search_duckduckgo(query: str, settings: dict[str, Any], http: httpx.AsyncClient) -> list[SearchResult]:
    """Search a self-hosted DuckDuckGo API service."""
    limit = _max_results(settings)
    params: dict[str, Any] = {"q": query, "max_results": limit}
    safe = settings.get("safe_search")
    if safe is not None:
        params["safesearch"] = {0: "off", 1: "moderate", 2: "strict"}.get(int(safe), "moderate")
    data = await _get_json(http, settings, params)
    if isinstance(data, dict):
        data = data.get("results", [])
    if not isinstance(data, list):
        raise ValueError(f"the DuckDuckGo API returned {type(data).__name__}, not a list of results")
    results = []
    for item in data:
        if not isinstance(item, dict):
            continue
        results.append(
            SearchResult(
                title=_text(item.get("title")),
                url=_text(item.get("link") or item.get("href") or item.get("url")),
                snippet=_text(item.get("snippet") or item.get("body")),
            )
        )
    return results[:limit]


async def search_searxng(query: str, settings: dict[str, Any], http: httpx.AsyncClient) -> list[SearchResult]:
    """Search a SearXNG instance through its JSON API."""
    limit = _max_results(settings)
    params: dict[str, Any] = {"q": query, "format": "json", "safesearch": int(settings.get("safe_search", 1))}
    if settings.get("engines"):
        params["engines"] = settings["engines"]
    if settings.get("language"):
        params["language"] = settings["language"]
    data = await _get_json(http, settings, params)
    items = data.get("results") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("SearXNG returned no results list, so enable the json format in its settings.yml")
    results = []
    for item in items:
        if not isinstance(item, dict):
            continue
        results.append(
            SearchResult(
                title=_text(item.get("title")),
                url=_text(item.get("url")),
                snippet=_text(item.get("content")),
            )
        )
    return results[:limit]
