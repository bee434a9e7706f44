"""The ``search`` site settings section: which provider runs and how results are cropped."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["SECTION", "SearchSettings"]

SECTION = "search"


class SearchSettings(BaseModel):
    """Web search settings, editable by admins at run time."""

    enabled: bool = Field(True, description="Run web search for web- models and the chat's search toggle.")
    provider: str = Field("", description="Name of the search provider to use; empty uses the first registered one.")
    providers: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Settings per provider name, each checked against that provider's JSON Schema.",
    )
    crop: bool = Field(False, description="Cut the results to crop_len characters in total.")
    crop_len: int = Field(1000, ge=100, description="Characters of result text kept when crop is on.")
    max_chars: int = Field(
        20_000, ge=100, description="Characters of result text kept when crop is off (a hard upper bound)."
    )
