"""Guarded fetches of user-supplied URLs: address checks, redirects, size and time limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.fetch import fetch_url, is_public_address
from chatnio_host.testing import make_settings
from chatnio_host.testing_vendors.server import FakeVendor, RecordedRequest, Reply


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("::1", False), ("fe80::1", False), ("fd00::1", False), ("::ffff:127.0.0.1", False),
])
def test_public_address_table(address: str, public: bool) -> None:
    assert is_public_address(address) is public


class Files(FakeVendor):
    def default_reply(self, request: RecordedRequest) -> Reply:
        if request.path == "/big":
            return Reply(headers=[("Content-Type", "image/png")], chunks=[b"x" * 4096] * 4)
        if request.path == "/slow":
            return Reply.stalled()
        if request.path.startswith("/hop"):
            hop = int(request.path[4:])
            return Reply(status=302, headers=[("Location", f"/hop{hop + 1}")], body=b"")
        return Reply(headers=[("Content-Type", "text/plain")], body=b"hello")


async def test_allowed_host_fetched(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, fetch_allow_hosts=["127.0.0.1"])
    async with Files() as files:
        body, content_type = await fetch_url(f"{files.url}/a.txt", settings, param="messages[0]")
    assert body == b"hello"
    assert content_type == "text/plain"


async def test_loopback_refused_without_allow_list(tmp_path: Path) -> None:
    async with Files() as files:
        with pytest.raises(InvalidRequest) as caught:
            await fetch_url(f"{files.url}/a.txt", make_settings(tmp_path), param="messages[0]")
        assert files.requests == []
    assert "127.0.0.1" in caught.value.message
    assert caught.value.param == "messages[0]"


async def test_name_resolving_to_loopback_refused(tmp_path: Path) -> None:
    async with Files() as files:
        with pytest.raises(InvalidRequest) as caught:
            await fetch_url(f"http://localhost:{files.port}/a.txt", make_settings(tmp_path), param="p")
        assert files.requests == []
    assert "localhost" in caught.value.message


async def test_size_cap(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, fetch_allow_hosts=["127.0.0.1"], fetch_max_bytes=8192)
    async with Files() as files:
        with pytest.raises(InvalidRequest) as caught:
            await fetch_url(f"{files.url}/big", settings, param="p")
    assert "8192 bytes" in caught.value.message


async def test_time_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, fetch_allow_hosts=["127.0.0.1"], fetch_timeout=0.5)
    async with Files() as files:
        with pytest.raises(InvalidRequest) as caught:
            await fetch_url(f"{files.url}/slow", settings, param="p")
    assert "could not be fetched" in caught.value.message


async def test_redirect_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, fetch_allow_hosts=["127.0.0.1"])
    async with Files() as files:
        with pytest.raises(InvalidRequest) as caught:
            await fetch_url(f"{files.url}/hop0", settings, param="p")
        assert len(files.requests) == 6
    assert "redirects more than 5 times" in caught.value.message


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a", "data:text/plain,hi"])
async def test_non_http_schemes_rejected(tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidRequest):
        await fetch_url(url, make_settings(tmp_path), param="p")
