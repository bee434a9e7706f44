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
    key_recheck_minutes: int = Field(
        0,
        ge=0,
        le=1440,
        description=(
            "Minutes between automatic tests of disabled keys of enabled channels; a key that passes "
            "is enabled again. 0 turns the automatic test off."
        ),
    )
