"""Chat Nio plugin with two web search providers.

* ``duckduckgo``: a self-hosted DuckDuckGo API service,
  ``GET {endpoint}/search?q=...&max_results=N`` answering a JSON list of
  ``{"title", "link", "snippet"}`` (``href``/``body`` are accepted too).
* ``searxng``: SearXNG's JSON API, ``GET {endpoint}/search?q=...&format=json`` answering
  ``{"results": [{"title", "url", "content"}, ...]}``. The instance must have the ``json``
  format enabled in its ``settings.yml``.

Each provider raises on any failure; the host turns that into a notice for the user.
"""

from __future__ import annotations

from typing import Any

from chatnio_host import SearchProvider, hookimpl

from chatnio_web_search.providers import (
    DUCKDUCKGO_SCHEMA,
    SEARXNG_SCHEMA,
    search_duckduckgo,
    search_searxng,
)

__all__ = ["PROVIDERS", "register_search_providers"]

PROVIDERS = (
    SearchProvider(
        name="duckduckgo",
        search=search_duckduckgo,
        label="DuckDuckGo API (self-hosted)",
        settings_schema=DUCKDUCKGO_SCHEMA,
    ),
    SearchProvider(name="searxng", search=search_searxng, label="SearXNG", settings_schema=SEARXNG_SCHEMA),
)


@hookimpl
def register_search_providers(register: Any) -> None:
    """Register the DuckDuckGo API and SearXNG providers."""
    for provider in PROVIDERS:
        register(provider)
