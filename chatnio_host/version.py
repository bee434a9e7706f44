"""The host's version, read from the installed distribution."""

from __future__ import annotations

import importlib.metadata

__all__ = ["__version__"]

try:
    __version__ = importlib.metadata.version("chatnio-host")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a plain checkout
    __version__ = "0.1.0"
