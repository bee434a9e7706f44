"""The ``channels`` site settings section, edited at ``/api/admin/settings/channels``."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["CHANNELS_SECTION", "ChannelSettings"]

CHANNELS_SECTION = "channels"


class ChannelSettings(BaseModel):
    """Scheduling options shared by every channel."""

    strict_tiers: bool = Field(
        False,
        description=(
            "Try only one weighted pick per priority tier (Chat Nio's original rule) instead of "
            "every channel of a tier before the next lower tier."
        ),
    )
