"""Guarded fetches of URLs that users supply, such as image URLs a vendor cannot fetch itself.

A fetch never reaches private, loopback, link-local, multicast, reserved or unspecified
addresses (cloud metadata services among them). Host names are checked after name resolution by
the resolver that the connection itself uses, so a name cannot resolve to a public address for
the check and to a private one for the connection. Redirects are followed by hand, at most
``MAX_REDIRECTS``, and each hop is checked again. Bodies are capped at ``fetch_max_bytes`` and
the whole fetch at ``fetch_timeout`` seconds. Hosts in ``fetch_allow_hosts`` skip the address
check. A refused or failed fetch raises ``InvalidRequest`` naming the URL's host.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ChatRequest, ImagePart

__all__ = ["MAX_REDIRECTS", "fetch_url", "is_public_address"]

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5


class _BlockedAddress(Exception):
    """A fetch target resolved to an address that fetches may not reach."""


def is_public_address(address: str) -> bool:
    """Return whether ``address`` (an IPv4 or IPv6 literal) is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # ``is_global`` is False for private, loopback, link-local, shared (100.64/10) and reserved ranges.
    return ip.is_global and not ip.is_multicast


class _GuardedResolver(AbstractResolver):
    """Resolves names with the default resolver and rejects non-public addresses."""

    def __init__(self, allow_hosts: frozenset[str]) -> None:
        self._inner = DefaultResolver()
        self._allow_hosts = allow_hosts

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower() in self._allow_hosts:
            return results
        for result in results:
            if not is_public_address(result["host"]):
                raise _BlockedAddress(host)
        return results

    async def close(self) -> None:
        await self._inner.close()


def _check_literal(host: str, allow_hosts: frozenset[str]) -> None:
    """Reject an IP-literal host that is not public; aiohttp does not resolve IP literals."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return
    if host.lower() not in allow_hosts and not is_public_address(host.strip("[]")):
        raise _BlockedAddress(host)


def _blocked_error(host: str, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"The URL in {param} points to {host}, a private or local address that this server does not fetch; "
        "send the content inline (for images, a data: URL) or ask an admin to allow the host.",
        param=param,
    )


async def fetch_url(url: str, settings: Any, *, param: str) -> tuple[bytes, str | None]:
    """Return the body and ``Content-Type`` of ``url``, or raise ``InvalidRequest`` naming its host.

    ``settings`` provides ``fetch_allow_hosts``, ``fetch_max_bytes`` and ``fetch_timeout``.
    """
    allow_hosts = frozenset(host.lower() for host in getattr(settings, "fetch_allow_hosts", []) or [])
    max_bytes = int(getattr(settings, "fetch_max_bytes", 20 * 1024 * 1024))
    timeout = float(getattr(settings, "fetch_timeout", 15.0))
    connector = aiohttp.TCPConnector(resolver=_GuardedResolver(allow_hosts), use_dns_cache=False)
    host = urlsplit(url).hostname or ""
    try:
        async with aiohttp.ClientSession(connector=connector, trust_env=False,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with asyncio.timeout(timeout):
                return await _follow(session, url, allow_hosts, max_bytes, param)
    except _BlockedAddress as blocked:
        logger.warning("rejected a fetch of host %s for %s: it resolves to a non-public address", blocked, param)
        raise _blocked_error(str(blocked), param) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        logger.info("fetch of a URL on host %s for %s failed: %s", host, param, type(exc).__name__)
        raise InvalidRequest(
            f"The URL in {param} on host {host} could not be fetched ({type(exc).__name__}); "
            "check that it is reachable or send the content inline.",
            param=param,
        ) from None


async def _follow(session: aiohttp.ClientSession, url: str, allow_hosts: frozenset[str], max_bytes: int,
                  param: str) -> tuple[bytes, str | None]:
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequest(f"The URL in {param} must be an http or https URL.", param=param)
        _check_literal(parts.hostname, allow_hosts)
        async with session.get(url, allow_redirects=False) as response:
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status >= 400:
                raise InvalidRequest(
                    f"The URL in {param} on host {parts.hostname} returned HTTP {response.status}.", param=param
                )
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise InvalidRequest(f"The file at the URL in {param} is larger than {max_bytes} bytes.", param=param)
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise InvalidRequest(
                        f"The file at the URL in {param} is larger than {max_bytes} bytes.", param=param
                    )
            return bytes(body), response.headers.get("Content-Type")
    raise InvalidRequest(f"The URL in {param} redirects more than {MAX_REDIRECTS} times.", param=param)


def _is_remote_image(part: object) -> bool:
    return isinstance(part, ImagePart) and part.data is None and bool(part.url) and str(part.url).startswith(
        ("http://", "https://")
    )


async def inline_remote_images(request: ChatRequest, settings: Any) -> ChatRequest:
    """Return ``request`` with every http(s) image URL fetched and inlined as base64 data.

    For vendors that want image bytes rather than links. The fetch follows ``fetch_url``'s rules
    (public addresses only unless allow-listed, a size cap, a time limit) and raises
    ``InvalidRequest`` naming the image's place in the request when it is refused or fails.
    """
    if settings is None or not any(_is_remote_image(part) for message in request.messages for part in message.content):
        return request
    messages = []
    for position, message in enumerate(request.messages):
        parts = list(message.content)
        for index, part in enumerate(parts):
            if _is_remote_image(part):
                assert isinstance(part, ImagePart) and part.url is not None
                data, content_type = await fetch_url(part.url, settings, param=f"messages[{position}].content[{index}]")
                parts[index] = ImagePart(
                    data=base64.b64encode(data).decode("ascii"),
                    media_type=(content_type or "").split(";")[0] or None,
                    detail=part.detail,
                )
        messages.append(dataclasses.replace(message, content=parts))
    return dataclasses.replace(request, messages=messages)
