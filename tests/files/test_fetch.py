"""Files attached by link: ``POST /api/files/fetch`` reaches public addresses and allow-listed hosts only."""

from __future__ import annotations

from typing import Any

import pytest

from chatnio_host.files.fetch import is_public_address
from chatnio_host.files.settings import SECTION, FileSettings
from chatnio_host.testing import TestHost
from chatnio_host.testing_vendors import FakeVendor, RecordedRequest, Reply
from tests.files.conftest import Account


class FileServer(FakeVendor):
    """Serves ``/notes.txt``; other paths are scripted per test."""

    def default_reply(self, request: RecordedRequest) -> Reply | None:
        if request.path == "/notes.txt":
            return Reply(headers=[("Content-Type", "text/plain")], body=b"fetched notes")
        return None


async def allow(host: TestHost, *hosts: str, **changes: Any) -> None:
    await host.ctx.site.put(SECTION, FileSettings(fetch_allow_hosts=list(hosts), **changes))


async def fetch(host: TestHost, account: Account, url: str) -> Any:
    return await host.client.post("/api/files/fetch", json={"url": url}, headers=account.headers)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.5", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("2606:4700::1111", True),
    ],
)
def test_public_address_check(address: str, public: bool) -> None:
    assert is_public_address(address) is public


async def test_allow_listed_host_fetched(files_host: TestHost, alice: Account) -> None:
    async with FileServer() as server:
        await allow(files_host, "127.0.0.1")
        response = await fetch(files_host, alice, f"{server.url}/notes.txt")
        assert response.status_code == 201, response.text
        assert response.json()["name"] == "notes.txt"
        assert response.json()["text_preview"] == "fetched notes"


async def test_loopback_refused_without_connecting(files_host: TestHost, alice: Account) -> None:
    async with FileServer() as server:
        for url in (f"{server.url}/notes.txt", f"http://localhost:{server.port}/notes.txt"):
            response = await fetch(files_host, alice, url)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "fetch_refused"
        assert "127.0.0.1" in (await fetch(files_host, alice, f"{server.url}/notes.txt")).json()["error"]["message"]
        assert server.connection_count == 0


async def test_redirect_to_internal_refused(files_host: TestHost, alice: Account) -> None:
    async with FileServer() as server:
        await allow(files_host, "127.0.0.1")
        server.enqueue(Reply(status=302, headers=[("Location", f"http://localhost:{server.port}/notes.txt")]))
        response = await fetch(files_host, alice, f"{server.url}/start")
        assert response.status_code == 400, response.text
        assert "localhost" in response.json()["error"]["message"]
        assert [request.path for request in server.requests] == ["/start"]


async def test_fetch_size_cap(files_host: TestHost, alice: Account) -> None:
    async with FileServer() as server:
        await allow(files_host, "127.0.0.1", max_bytes=1024)
        server.enqueue(Reply(headers=[("Content-Type", "text/plain")], chunks=[b"a" * 800, b"b" * 800]))
        response = await fetch(files_host, alice, f"{server.url}/big.txt")
        assert response.status_code == 413, response.text


async def test_fetch_time_limit(files_host: TestHost, alice: Account) -> None:
    async with FileServer() as server:
        await allow(files_host, "127.0.0.1", fetch_timeout=0.5)
        server.enqueue(Reply.stalled())
        response = await fetch(files_host, alice, f"{server.url}/slow.txt")
        assert response.status_code == 400, response.text
        assert "timed out" in response.json()["error"]["message"]


async def test_non_http_scheme_rejected(files_host: TestHost, alice: Account) -> None:
    response = await fetch(files_host, alice, "file:///etc/passwd")
    assert response.status_code == 400, response.text
    assert "http" in response.json()["error"]["message"]
