"""Fixtures of the web search tests; hosts come from the cache tests' factory."""

from __future__ import annotations

from tests.cache.conftest import open_hosts

__all__ = ["open_hosts"]
