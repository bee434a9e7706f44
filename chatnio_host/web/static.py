"""Serve the built web app, with unknown non-API paths falling back to index.html."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from chatnio_host.context import AppContext
from chatnio_host.web.errors import error_body

__all__ = ["setup"]

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/v1/", "/v1beta/", "/dashboard/", "/mj/", "/health", "/ready")

# The web app loads only its own scripts: no inline script, no eval. KaTeX and Mermaid output
# needs inline styles, and model replies may show http(s) images.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HTML_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def setup(app: FastAPI, ctx: AppContext) -> None:
    """Add the catch-all route when SERVE_STATIC is on and the build exists."""
    if not ctx.settings.serve_static:
        return
    root = Path(ctx.settings.static_dir).resolve()
    index = root / "index.html"
    if not index.is_file():
        logger.warning("SERVE_STATIC is on but %s is missing; run `make ui` to build the web app", index)
        return

    @app.get("/{path:path}", include_in_schema=False)
    async def static_file(path: str, request: Request) -> Response:
        if request.url.path.startswith(API_PREFIXES):
            return JSONResponse(error_body(f"No route for {request.url.path}.", "not_found_error"), status_code=404)
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            if candidate.suffix == ".html":
                return FileResponse(candidate, headers=HTML_HEADERS)
            headers = {"X-Content-Type-Options": "nosniff"}
            if candidate.parent.name == "assets":
                # Vite names built assets by content hash, so a name never changes its bytes.
                headers["Cache-Control"] = "public, max-age=31536000, immutable"
            elif candidate.name == "sw.js":
                headers["Cache-Control"] = "no-cache"
            return FileResponse(candidate, headers=headers)
        return FileResponse(index, headers=HTML_HEADERS)
