"""The caller of a request (the signed-in user or an API key's owner) and its pricing and routing group."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatnio_host.db.models.user import User

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = ["GROUPS", "LEVEL_GROUPS", "Caller", "caller_group", "resolve_level"]

logger = logging.getLogger(__name__)

LEVEL_GROUPS: dict[int, str] = {0: "normal", 1: "basic", 2: "standard", 3: "pro"}
GROUPS: tuple[str, ...] = ("anonymous", "normal", "basic", "standard", "pro")


@dataclass
class Caller:
    """The identity behind one request.

    ``user`` is a snapshot detached from any session, and on the relay path it comes from the
    key cache. Load the row in your own session before changing it.
    """

    user: User
    api_key_id: int | None = None
    allowed_models: list[str] | None = None
    """The key's model allow-list; None allows every model (always None for a JWT caller)."""
    group: str = "normal"
    api_key_name: str | None = field(default=None, repr=False)

    @property
    def user_id(self) -> int:
        """The calling user's id."""
        return self.user.id

    @property
    def is_admin(self) -> bool:
        """Whether the calling user is an admin."""
        return self.user.is_admin

    def allows_model(self, model: str) -> bool:
        """Return whether the key's allow-list admits ``model`` (always true without a list)."""
        return self.allowed_models is None or model in self.allowed_models


def caller_group(user: User | None, now: dt.datetime | None = None, *, level: int | None = None) -> str:
    """Return ``anonymous``, ``normal``, ``basic``, ``standard`` or ``pro``.

    ``level`` is the active subscription level when the caller already knows it (see
    ``resolve_level``); otherwise the stored ``user.level`` is used. ``now`` is accepted for
    callers that pass the request time; expiry is billing's concern.
    """
    if user is None:
        return "anonymous"
    effective = user.level if level is None else level
    return LEVEL_GROUPS.get(int(effective or 0), "normal")


async def resolve_level(ctx: AppContext, user: User) -> int:
    """Return the user's active subscription level, from billing when billing is present."""
    billing = ctx.services.get("billing")
    active_level = getattr(billing, "active_level", None)
    if active_level is None:
        return int(user.level or 0)
    result: Any = active_level(user.id)
    if inspect.isawaitable(result):
        result = await result
    return int(result or 0)
