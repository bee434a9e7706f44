"""Fake search services on 127.0.0.1 for tests: a DuckDuckGo API and a SearXNG JSON API.

Both record every request (``requests``) and respond to ``GET /search`` with the ``results`` a
test sets. ``enqueue`` scripts failures (a 500, a stalled response) as for any ``FakeVendor``.
"""

from __future__ import annotations

from typing import Any

from chatnio_host.testing_vendors import FakeVendor, RecordedRequest, Reply

__all__ = ["FakeDuckDuckGo", "FakeSearXNG"]


class FakeDuckDuckGo(FakeVendor):
    """A self-hosted DuckDuckGo API: ``GET /search?q=&max_results=`` returns a JSON list."""

    def __init__(self, results: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results if results is not None else []

    def default_reply(self, request: RecordedRequest) -> Reply | None:
        if request.method != "GET" or request.path != "/search":
            return None
        limit = int(request.query_value("max_results") or len(self.results) or 1)
        return Reply.json(self.results[:limit])


class FakeSearXNG(FakeVendor):
    """A SearXNG instance: ``GET /search?q=&format=json`` returns ``{"query", "results": [...]}``."""

    def __init__(self, results: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results if results is not None else []

    def default_reply(self, request: RecordedRequest) -> Reply | None:
        if request.method != "GET" or request.path != "/search":
            return None
        if request.query_value("format") != "json":
            return Reply(status=403, headers=[("Content-Type", "text/html")], body=b"<html>403 Forbidden</html>")
        return Reply.json({"query": request.query_value("q"), "number_of_results": len(self.results), "results": self.results})
