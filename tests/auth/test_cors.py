"""CORS: open relay paths, the allow-list on the web API by exact host or dot suffix, never ``null``."""

from __future__ import annotations

from chatnio_host.testing import TestHost
from chatnio_host.web.cors import normalise_entry, origin_allowed
from tests.auth.conftest import HostFactory


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "authorization, content-type"}


async def test_relay_paths_open_to_any_origin(hosts: HostFactory) -> None:
    host = await hosts.start(allow_origins=["chat.example.test"])
    for path in ("/v1/chat/completions", "/v1beta/models/x:generateContent", "/dashboard/billing/usage", "/mj/submit/imagine"):
        response = await host.client.options(path, headers=_preflight("https://evil.example.net"))
        assert response.status_code == 200, path
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
        assert response.headers["access-control-max-age"] == "7200"


async def test_web_api_allow_list(hosts: HostFactory) -> None:
    host = await hosts.start(allow_origins=["https://chat.example.test"])
    allowed = ("https://chat.example.test", "https://www.chat.example.test", "http://chat.example.test:5173")
    for origin in allowed:
        response = await host.client.options("/api/auth/login", headers=_preflight(origin))
        assert response.status_code == 200, origin
        assert response.headers["access-control-allow-origin"] == origin
        assert "access-control-allow-credentials" not in response.headers
        assert "Authorization" in response.headers["access-control-allow-headers"]

    refused = ("https://evil.example.net", "https://notchat.example.test", "https://chat.example.test.evil.example.net",
               "null", "file://", "not a url")
    for origin in refused:
        response = await host.client.options("/api/auth/login", headers=_preflight(origin))
        assert response.status_code == 403, origin
        assert "access-control-allow-origin" not in response.headers, origin


async def test_simple_request_headers(hosts: HostFactory) -> None:
    host = await hosts.start(allow_origins=["chat.example.test"])
    allowed = await host.client.get("/api/auth/options", headers={"Origin": "https://chat.example.test"})
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example.test"
    assert allowed.headers["vary"] == "Origin"
    refused = await host.client.get("/api/auth/options", headers={"Origin": "https://notchat.example.test"})
    assert refused.status_code == 200
    assert "access-control-allow-origin" not in refused.headers


async def test_empty_list_allows_any_but_null(app_host: TestHost) -> None:
    response = await app_host.client.options("/api/auth/login", headers=_preflight("https://anything.example"))
    assert response.headers["access-control-allow-origin"] == "https://anything.example"
    null = await app_host.client.options("/api/auth/login", headers=_preflight("null"))
    assert null.status_code == 403
    assert "access-control-allow-origin" not in null.headers


def test_origin_matching_rules() -> None:
    hosts = [normalise_entry(entry) for entry in ("chatnio.net", "https://App.Example.com:8443/", "example.org.")]
    assert hosts == ["chatnio.net", "app.example.com", "example.org"]
    assert origin_allowed("https://chatnio.net", hosts)
    assert origin_allowed("https://www.chatnio.net", hosts)
    assert not origin_allowed("https://notchatnio.net", hosts)
    assert not origin_allowed("https://chatnio.net.evil.com", hosts)
    assert origin_allowed("https://app.example.com", hosts)
    assert not origin_allowed("https://example.com", hosts)
    assert origin_allowed("https://sub.example.org", hosts)
    assert not origin_allowed("null", hosts)
    assert not origin_allowed("null", [])
    assert origin_allowed("https://a.example", [])
