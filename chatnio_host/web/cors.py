"""CORS: the relay paths accept any origin; the web API accepts the configured origins only.

* ``/v1``, ``/v1beta``, ``/dashboard`` and ``/mj`` are called by third-party apps with API keys, so any
  origin gets ``Access-Control-Allow-Origin: *``, never with credentials.
* Other paths accept an origin whose host equals an ``ALLOW_ORIGINS`` entry or ends with ``.``
  and the entry, so ``chat.example.com`` matches ``example.com`` but ``notexample.com`` does not.
  An empty list accepts any origin. The web app authenticates with a header, not a cookie, so
  credentials are never allowed.
* The ``null`` origin (sandboxed frames, ``file:`` pages) is never allowed on the web API.
  A refused origin gets no CORS headers; a refused preflight gets 403.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["OPEN_PREFIXES", "CORSMiddleware", "normalise_entry", "origin_allowed"]

logger = logging.getLogger(__name__)

OPEN_PREFIXES: tuple[str, ...] = ("/v1", "/v1beta", "/dashboard", "/mj")
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = (
    "Authorization, Content-Type, X-Requested-With, X-Request-Id, Last-Event-ID, Accept, Accept-Language"
)
EXPOSED_HEADERS = "X-Request-Id, Retry-After"
MAX_AGE = "7200"


def normalise_entry(entry: str) -> str:
    """Reduce an ``ALLOW_ORIGINS`` entry (a host or an origin URL) to its lower-case host."""
    entry = entry.strip().lower()
    if "://" in entry:
        entry = urlsplit(entry).hostname or ""
    else:
        entry = entry.split("/")[0].split(":")[0]
    return entry.strip(".")


def _origin_host(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower()


def origin_allowed(origin: str, hosts: Iterable[str]) -> bool:
    """Return whether the normalised ``hosts`` allow a web API request from ``origin``."""
    host = _origin_host(origin)
    if host is None:
        return False
    hosts = [item for item in hosts if item]
    if not hosts:
        return True
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)


def _is_open(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in OPEN_PREFIXES)


class CORSMiddleware:
    """Respond to preflights and add CORS headers by the rules above."""

    def __init__(self, app: ASGIApp, allow_origins: Iterable[str]) -> None:
        self.app = app
        self.hosts = tuple(normalise_entry(entry) for entry in allow_origins if entry.strip())

    def _headers_for(self, path: str, origin: str, request_headers: str | None) -> dict[str, str] | None:
        if _is_open(path):
            return {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": request_headers or ALLOWED_HEADERS,
                "Access-Control-Expose-Headers": EXPOSED_HEADERS,
            }
        if not origin_allowed(origin, self.hosts):
            return None
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Expose-Headers": EXPOSED_HEADERS,
            "Vary": "Origin",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return

        path = scope.get("path", "")
        is_preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        cors = self._headers_for(path, origin, headers.get("access-control-request-headers"))
        if is_preflight:
            if cors is None:
                logger.info("rejected CORS preflight from origin %r for %s", origin[:200], path)
                await PlainTextResponse("This origin is not allowed.", status_code=403)(scope, receive, send)
                return
            response = PlainTextResponse("OK", status_code=200, headers={**cors, "Access-Control-Max-Age": MAX_AGE})
            await response(scope, receive, send)
            return
        if cors is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = list(message.get("headers", ()))
                names = {name.lower() for name, _ in existing}
                for name, value in cors.items():
                    if name.lower().encode() not in names:
                        existing.append((name.lower().encode("latin-1"), value.encode("latin-1")))
                message["headers"] = existing
            await send(message)

        await self.app(scope, receive, send_with_cors)
