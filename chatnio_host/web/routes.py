"""Walk the app's routes, including those of included routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

__all__ = ["iter_api_routes"]


def iter_api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Yield ``(full path, route)`` for every API route, descending into included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
            continue
        original = getattr(route, "original_router", None)
        if original is not None:
            context = getattr(route, "include_context", None)
            inner_prefix = getattr(context, "prefix", "") or ""
            yield from iter_api_routes(list(original.routes), prefix + inner_prefix)
            continue
        inner = getattr(route, "routes", None)
        if inner:
            yield from iter_api_routes(list(inner), prefix + getattr(route, "path", ""))
