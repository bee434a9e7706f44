"""The client IP behind trusted reverse proxies.

``X-Forwarded-For`` is read only when the connection comes from a trusted proxy. The client is
then the right-most hop that is not itself a trusted proxy, because every hop left of it could
have been written by the client. ``X-Real-IP`` is never read.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache

from starlette.requests import Request

__all__ = ["client_ip", "parse_networks", "pick_client_ip"]

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse CIDRs or single addresses; invalid entries are logged and skipped."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            logger.error("trusted_proxies entry %r is not an IP address or CIDR; ignoring it", entry)
    return tuple(networks)


def _is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def pick_client_ip(peer: str | None, forwarded_for: Iterable[str], networks: Sequence[Network]) -> str:
    """Return the client IP from the peer address and the ``X-Forwarded-For`` header values."""
    peer = peer or "unknown"
    if not networks or not _is_trusted(peer, networks):
        return peer

    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            # A malformed hop makes the chain untrustworthy, so fall back to the proxy's own address.
            logger.warning("ignoring malformed X-Forwarded-For hop %r from proxy %s", hop[:64], peer)
            return peer
        if not _is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def client_ip(request: Request, trusted_proxies: Sequence[str]) -> str:
    """Return the IP of the client that sent ``request``."""
    peer = request.client.host if request.client else None
    networks = parse_networks(tuple(trusted_proxies))
    return pick_client_ip(peer, request.headers.getlist("x-forwarded-for"), networks)
