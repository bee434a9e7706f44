"""The ``general`` site settings section: name, links, texts, the relay switch and the timezone."""

from __future__ import annotations

import zoneinfo

from pydantic import BaseModel, Field, field_validator

__all__ = ["GENERAL_SECTION", "GeneralSettings"]

GENERAL_SECTION = "general"


class GeneralSettings(BaseModel):
    """What the site shows about itself, and site-wide switches."""

    site_name: str = Field("Chat Nio", max_length=64)
    logo_url: str = Field("", max_length=1024)
    docs_url: str = Field("", max_length=1024)
    buy_link: str = Field("", max_length=1024, description="Card-key shop; opened with ?quota=<n>&username=<name>.")
    contact: str = Field("", max_length=4000, description="Markdown.")
    footer: str = Field("", max_length=4000, description="Markdown.")
    backend_url: str = Field("", max_length=1024, description="Public URL of this server, for callbacks.")
    relay_closed: bool = Field(False, description="Refuse /v1 chat and image requests.")
    timezone: str = Field("UTC", description="IANA timezone of the site's days (dashboard, usage).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA timezone such as Asia/Shanghai") from exc
        return value

    @field_validator("backend_url", "docs_url", "buy_link", "logo_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")
