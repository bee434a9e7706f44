"""HTTP routes of uploads: ``/api/files`` for the owner, and the admin ``files`` settings."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, Field

from chatnio_host.auth.deps import AdminUser, CurrentUser, JSONOnly
from chatnio_host.deps import CtxDep
from chatnio_host.errors import PayloadTooLarge
from chatnio_host.files.service import FileService
from chatnio_host.files.settings import SECTION, FileSettings

__all__ = ["admin_router", "router"]

router = APIRouter(prefix="/api/files", tags=["files"])
admin_router = APIRouter(prefix="/api/admin/settings/files", tags=["files"], dependencies=[JSONOnly])


def _service(ctx: CtxDep) -> FileService:
    return ctx.services["files"]


@router.post("", status_code=201)
async def upload_file(
    ctx: CtxDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="The file to upload.")],
    model: Annotated[str | None, Form(description="The model the file is for; decides how much text it gets.")] = None,
) -> dict[str, Any]:
    """Upload a file; return its id, sniffed type, size, token count and a preview of its text."""
    service = _service(ctx)
    settings = await service.settings()
    data = await file.read(settings.max_bytes + 1)
    if len(data) > settings.max_bytes:
        raise PayloadTooLarge(
            f"{file.filename or 'upload'}: the file is larger than the upload limit of {settings.max_bytes} bytes "
            f"({settings.max_bytes / 1024 / 1024:g} MB).",
            param="file",
        )
    view = await service.upload(user.id, file.filename, data, model=model)
    return service.as_dict(view)


class FetchRequest(BaseModel):
    """A link to a file to attach, and the model it is for."""

    url: str = Field(min_length=1, max_length=4096)
    model: str | None = None


@router.post("/fetch", status_code=201, dependencies=[JSONOnly])
async def fetch_file(ctx: CtxDep, user: CurrentUser, body: FetchRequest) -> dict[str, Any]:
    """Download a file from a public link and store it like an upload."""
    service = _service(ctx)
    view = await service.upload_from_url(user.id, body.url, model=body.model)
    return service.as_dict(view)


@router.get("")
async def list_files(
    ctx: CtxDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """List the caller's files, newest first."""
    service = _service(ctx)
    settings = await service.settings()
    rows, total = await service.list(user.id, limit=limit, offset=offset)
    items = [service.as_dict(service.view(row, settings, model=None)) for row in rows]
    return {"items": items, "total": total}


@router.get("/{file_id}")
async def get_file(
    ctx: CtxDep,
    user: CurrentUser,
    file_id: str,
    model: Annotated[str | None, Query(description="Show the text as this model receives it.")] = None,
) -> dict[str, Any]:
    """Return one of the caller's files with its text, cut as ``model`` would receive it."""
    service = _service(ctx)
    settings = await service.settings()
    row = await service.get(user.id, file_id, with_content=True)
    view = service.view(row, settings, model=model, text=row.text, include_text=True)
    return service.as_dict(view)


@router.get("/{file_id}/content")
async def get_file_content(ctx: CtxDep, user: CurrentUser, file_id: str) -> Response:
    """Return an image upload's bytes for previews, or a text file's extracted text as a download.

    Uploads never run as pages of this site: images are only PNG, JPEG, GIF or WebP (an SVG is
    stored as text), every response forbids type sniffing and is sandboxed, and text is an attachment.
    """
    row = await _service(ctx).get(user.id, file_id, with_content=True)
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'"}
    encoded_name = quote(row.name, safe="")
    if row.image_base64 is None:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{encoded_name}.txt"
        return Response(content=row.text.encode("utf-8"), media_type="text/plain; charset=utf-8", headers=headers)
    headers["Content-Disposition"] = f"inline; filename*=UTF-8''{encoded_name}"
    return Response(content=base64.b64decode(row.image_base64), media_type=row.media_type, headers=headers)


@router.delete("/{file_id}", status_code=204)
async def delete_file(ctx: CtxDep, user: CurrentUser, file_id: str) -> Response:
    """Delete one of the caller's files."""
    await _service(ctx).delete(user.id, file_id)
    return Response(status_code=204)


@admin_router.get("")
async def get_file_settings(ctx: CtxDep, _admin: AdminUser) -> FileSettings:
    """Return the upload settings."""
    return await ctx.site.get(SECTION, FileSettings)


@admin_router.put("")
async def put_file_settings(ctx: CtxDep, admin: AdminUser, settings: FileSettings) -> FileSettings:
    """Replace the upload settings."""
    await ctx.site.put(SECTION, settings, actor_id=admin.id)
    return settings
