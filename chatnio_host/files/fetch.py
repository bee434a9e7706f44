"""Fetch a file a user points at by URL, without letting the URL reach internal services.

Every address a host name resolves to is checked before connecting, and the connection uses
exactly the checked addresses (a custom aiohttp resolver), so DNS rebinding cannot swap in an
internal address afterwards. Redirects are followed by hand, each hop checked the same way.
Private, loopback, link-local (cloud metadata), multicast, reserved and unspecified addresses
are rejected unless the URL's host name is on the allow-list. A refused fetch is a 400 that
names the host; the size cap gives 413 and the time limit gives 400.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from chatnio_host.errors import InvalidRequest, PayloadTooLarge

__all__ = ["FetchedFile", "UnsafeAddress", "fetch_url", "is_public_address"]

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024


class UnsafeAddress(Exception):
    """A host name resolved to an address that fetches may not reach."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, which is not a public address")
        self.host = host
        self.address = address


@dataclass
class FetchedFile:
    """The body of a fetched URL and the file name taken from its path."""

    data: bytes
    filename: str
    url: str


def is_public_address(address: str) -> bool:
    """Return whether ``address`` is a globally routable unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class _GuardedResolver(AbstractResolver):
    """Resolve names and reject any non-public address unless the name is allow-listed."""

    def __init__(self, allow_hosts: frozenset[str]) -> None:
        self._inner = DefaultResolver()
        self._allow_hosts = allow_hosts

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower() in self._allow_hosts:
            return results
        for result in results:
            if not is_public_address(result["host"]):
                raise UnsafeAddress(host, result["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()


def _check_url(url: str, allow_hosts: frozenset[str]) -> str:
    """Return the URL's host name after checking the scheme and any literal IP address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest(f"Only http and https links can be fetched, not {parts.scheme or 'this'!r} ones.", param="url")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidRequest("The link has no host name.", param="url")
    if host in allow_hosts:
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    if not is_public_address(host):
        raise UnsafeAddress(host, host)
    return host


def _filename(url: str) -> str:
    path = unquote(urlsplit(url).path)
    return path.rstrip("/").rsplit("/", 1)[-1] or "download"


def _refused(host: str) -> InvalidRequest:
    return InvalidRequest(
        f"The link's host {host} is not a public address, so it cannot be fetched. "
        "Ask an admin to add it to the fetch allow-list if it should be.",
        param="url",
        code="fetch_refused",
    )


async def _read_capped(response: aiohttp.ClientResponse, host: str, max_bytes: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise PayloadTooLarge(f"The file at {host} is {declared} bytes, larger than the limit of {max_bytes} bytes.", param="url")
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        body.extend(chunk)
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"The file at {host} is larger than the limit of {max_bytes} bytes.", param="url")
    return bytes(body)


async def fetch_url(url: str, *, max_bytes: int, timeout: float, allow_hosts: list[str] | None = None) -> FetchedFile:
    """Download ``url`` within ``timeout`` seconds and ``max_bytes``, checking every hop's addresses."""
    allowed = frozenset(host.lower() for host in allow_hosts or [])
    connector = aiohttp.TCPConnector(resolver=_GuardedResolver(allowed), use_dns_cache=False)
    host = urlsplit(url).hostname or url
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            async with asyncio.timeout(timeout):
                current = url
                for _hop in range(MAX_REDIRECTS + 1):
                    host = _check_url(current, allowed)
                    async with session.get(current, allow_redirects=False) as response:
                        if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                            current = urljoin(current, response.headers["Location"])
                            logger.info("fetch of %s redirected to host %s", host, urlsplit(current).hostname)
                            continue
                        if response.status >= 400:
                            raise InvalidRequest(
                                f"Fetching the link from {host} failed with HTTP status {response.status}.", param="url"
                            )
                        data = await _read_capped(response, host, max_bytes)
                        return FetchedFile(data=data, filename=_filename(current), url=current)
                raise InvalidRequest(f"The link from {host} redirected more than {MAX_REDIRECTS} times.", param="url")
    except UnsafeAddress as exc:
        logger.warning("fetch rejected: %s", exc)
        raise _refused(exc.host) from exc
    except aiohttp.ClientConnectorError as exc:
        cause: Any = exc.__cause__ or getattr(exc, "os_error", None)
        if isinstance(cause, UnsafeAddress):
            logger.warning("fetch rejected: %s", cause)
            raise _refused(cause.host) from exc
        logger.warning("fetch of host %s failed: %s", host, exc)
        raise InvalidRequest(f"Connecting to {host} to fetch the link failed.", param="url") from exc
    except TimeoutError as exc:
        logger.warning("fetch of host %s timed out after %s seconds", host, timeout)
        raise InvalidRequest(f"Fetching the link from {host} timed out after {timeout:g} seconds.", param="url") from exc
    except aiohttp.ClientError as exc:
        logger.warning("fetch of host %s failed: %s", host, exc)
        raise InvalidRequest(f"Fetching the link from {host} failed.", param="url") from exc
