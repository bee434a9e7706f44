"""The app's probes, request ids and error bodies."""

from __future__ import annotations

from chatnio_host.testing import TestHost


async def test_health_answers_ok(host: TestHost) -> None:
    response = await host.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_request_id_echoed_or_generated(host: TestHost) -> None:
    echoed = await host.client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await host.client.get("/health")
    assert len(generated.headers["x-request-id"]) >= 16


async def test_unknown_route_json_404(host: TestHost) -> None:
    response = await host.client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["type"] == "not_found_error"
