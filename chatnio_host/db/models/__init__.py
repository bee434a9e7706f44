"""Every table of the host. Importing this package imports each model module in it, so
``Base.metadata`` is complete for Alembic and for throwaway test databases."""

from __future__ import annotations

import importlib
import pkgutil

from chatnio_host.db.base import Base

__all__ = ["Base", "load_all_models"]


def load_all_models() -> None:
    """Import every module of this package so each table registers on ``Base.metadata``."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


load_all_models()
