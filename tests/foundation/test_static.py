"""The built web app is served with a strict Content-Security-Policy and an SPA fallback."""

from __future__ import annotations

from pathlib import Path

from chatnio_host.testing import TestHost


def build(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><div id="root"></div><script type="module" src="/assets/app.js"></script>')
    (dist / "assets" / "app.js").write_text("console.log('app')")
    (dist / "sw.js").write_text("self.addEventListener('fetch', () => {})")
    return dist


async def test_pages_carry_strict_csp(tmp_path: Path) -> None:
    dist = build(tmp_path)
    async with TestHost(tmp_path, serve_static=True, static_dir=str(dist)) as host:
        for path in ("/", "/share/abcdefghijklmnopqrstuvwx", "/chat/12"):
            response = await host.client.get(path)
            policy = response.headers["content-security-policy"]
            script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))

            assert response.status_code == 200
            assert response.text.startswith("<!doctype html>")
            assert "'unsafe-inline'" not in script_src
            assert "*" not in script_src
            assert "frame-ancestors 'none'" in policy
            assert response.headers["x-content-type-options"] == "nosniff"


async def test_assets_cached_and_api_not_swallowed(tmp_path: Path) -> None:
    dist = build(tmp_path)
    async with TestHost(tmp_path, serve_static=True, static_dir=str(dist)) as host:
        asset = await host.client.get("/assets/app.js")
        worker = await host.client.get("/sw.js")
        missing_api = await host.client.get("/api/not-a-route")
        escape = await host.client.get("/..%2f..%2fetc/passwd")

    assert "immutable" in asset.headers["cache-control"]
    assert worker.headers["cache-control"] == "no-cache"
    assert missing_api.status_code == 404
    assert missing_api.headers["content-type"].startswith("application/json")
    assert "root:" not in escape.text
