"""Site settings (admin and public), announcements and notifications."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, select

from chatnio_host.auth.deps import AdminUser, JSONOnly
from chatnio_host.db.models.chat import Announcement
from chatnio_host.deps import CtxDep
from chatnio_host.errors import InvalidRequest, NotFound
from chatnio_host.site.general import GENERAL_SECTION, GeneralSettings
from chatnio_host.site.sections import WRITE_ONLY_FIELDS, section_models

__all__ = ["admin_router", "public_router"]

logger = logging.getLogger(__name__)

public_router = APIRouter(prefix="/api", tags=["site"])
admin_router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[JSONOnly])


class SitePublic(BaseModel):
    """The public part of the site settings, readable without signing in."""

    site_name: str
    logo_url: str
    docs_url: str
    buy_link: str
    contact: str
    footer: str
    registration_closed: bool
    email_verification_required: bool
    mail_configured: bool
    relay_closed: bool
    relay_plan: bool
    subscriptions_enabled: bool
    search_available: bool
    timezone: str


class AnnouncementCreate(BaseModel):
    """A new announcement or notification."""

    title: str = Field("", max_length=255)
    content: str = Field(..., min_length=1, max_length=20000)
    kind: str = Field("announcement", pattern="^(announcement|notification)$")


class AnnouncementPublic(BaseModel):
    """An announcement; its ``id`` changes with every new one, so the UI shows each once."""

    id: int
    kind: str
    title: str
    content: str
    created_at: Any


def _public_announcement(row: Announcement) -> AnnouncementPublic:
    return AnnouncementPublic(id=row.id, kind=row.kind, title=row.title, content=row.content, created_at=row.created_at)


async def _read_section(ctx: CtxDep, name: str, model: type[BaseModel]) -> dict[str, Any]:
    value = (await ctx.site.get(name, model)).model_dump(mode="json")
    for field in WRITE_ONLY_FIELDS.get(name, ()):
        value[f"{field}_set"] = bool(value.get(field))
        value[field] = ""
    return value


@admin_router.get("/settings")
async def read_settings(ctx: CtxDep, admin: AdminUser) -> dict[str, dict[str, Any]]:
    """Return every site settings section; write-only fields come back empty with a ``*_set`` flag."""
    return {name: await _read_section(ctx, name, model) for name, model in section_models().items()}


@admin_router.put("/settings")
async def update_settings(ctx: CtxDep, admin: AdminUser, body: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Change the given fields of the given sections; fields left out keep their value.

    Each change applies on every replica at once.
    """
    models = section_models()
    validated: dict[str, BaseModel] = {}
    for name, value in body.items():
        model = models.get(name)
        if model is None:
            raise InvalidRequest(f"Unknown settings section {name!r}; known: {', '.join(models)}.", param=name)
        if not isinstance(value, dict):
            raise InvalidRequest(f"Settings section {name!r} must be an object.", param=name)
        current = (await ctx.site.get(name, model)).model_dump(mode="json")
        merged = {**current, **{key: val for key, val in value.items() if not key.endswith("_set")}}
        for field in WRITE_ONLY_FIELDS.get(name, ()):
            if not merged.get(field):
                merged[field] = current.get(field, "")
        try:
            validated[name] = model.model_validate(merged)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise InvalidRequest(f"Invalid {name}.{where}: {first.get('msg')}.", param=f"{name}.{where}") from exc
    for name, value in validated.items():
        await ctx.site.put(name, value, actor_id=admin.id)
    logger.info("admin %s changed site settings sections %s", admin.id, sorted(validated))
    return {name: await _read_section(ctx, name, models[name]) for name in validated}


@public_router.get("/site", response_model=SitePublic)
async def read_site(ctx: CtxDep) -> SitePublic:
    """Return the public part of the site settings."""
    models = section_models()
    general = await ctx.site.get(GENERAL_SECTION, GeneralSettings)
    auth = await ctx.site.get("auth", models["auth"]) if "auth" in models else None
    mail = await ctx.site.get("mail", models["mail"]) if "mail" in models else None
    subscription = await ctx.site.get("subscription", models["subscription"]) if "subscription" in models else None
    return SitePublic(
        site_name=general.site_name,
        logo_url=general.logo_url,
        docs_url=general.docs_url,
        buy_link=general.buy_link,
        contact=general.contact,
        footer=general.footer,
        registration_closed=bool(getattr(auth, "registration_closed", False)),
        email_verification_required=bool(getattr(auth, "email_verification_required", False)),
        mail_configured=bool(getattr(mail, "configured", False)),
        relay_closed=general.relay_closed,
        relay_plan=bool(getattr(subscription, "relay_plan", False)),
        subscriptions_enabled=bool(getattr(subscription, "enabled", False)),
        search_available="search" in ctx.services,
        timezone=general.timezone,
    )


@public_router.get("/announcement", response_model=AnnouncementPublic | None)
async def read_announcement(ctx: CtxDep) -> AnnouncementPublic | None:
    """Return the latest announcement, or null."""
    async with ctx.db.session() as session:
        row = await session.scalar(
            select(Announcement).where(Announcement.kind == "announcement").order_by(Announcement.id.desc()).limit(1)
        )
    return _public_announcement(row) if row is not None else None


@public_router.get("/notifications", response_model=list[AnnouncementPublic])
async def read_notifications(ctx: CtxDep) -> list[AnnouncementPublic]:
    """Return the ten latest notifications, newest first."""
    async with ctx.db.session() as session:
        rows = await session.scalars(
            select(Announcement).where(Announcement.kind == "notification").order_by(Announcement.id.desc()).limit(10)
        )
        return [_public_announcement(row) for row in rows]


@admin_router.get("/announcements", response_model=list[AnnouncementPublic])
async def read_all_announcements(ctx: CtxDep, admin: AdminUser) -> list[AnnouncementPublic]:
    """List every announcement and notification, newest first."""
    async with ctx.db.session() as session:
        rows = await session.scalars(select(Announcement).order_by(Announcement.id.desc()).limit(200))
        return [_public_announcement(row) for row in rows]


@admin_router.post("/announcements", response_model=AnnouncementPublic, status_code=201)
async def create_announcement(ctx: CtxDep, admin: AdminUser, body: AnnouncementCreate) -> AnnouncementPublic:
    """Post an announcement or a notification."""
    async with ctx.db.transaction() as session:
        row = Announcement(kind=body.kind, title=body.title, content=body.content, author_id=admin.id)
        session.add(row)
        await session.flush()
        public = _public_announcement(row)
    logger.info("admin %s posted %s %s", admin.id, body.kind, public.id)
    return public


@admin_router.delete("/announcements/{announcement_id}", status_code=204)
async def delete_announcement(ctx: CtxDep, admin: AdminUser, announcement_id: int) -> None:
    """Delete an announcement or notification."""
    async with ctx.db.transaction() as session:
        result = await session.execute(delete(Announcement).where(Announcement.id == announcement_id))
    if result.rowcount == 0:
        raise NotFound(f"Announcement {announcement_id} was not found.", param="announcement_id")
