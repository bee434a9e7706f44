"""``FileService``: parse uploads with the registered parsers, store them, and attach them to chats."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from chatnio_host.db.models.files import StoredFile
from chatnio_host.errors import APIError, InvalidRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from chatnio_host.files.fetch import fetch_url
from chatnio_host.files.settings import SECTION, FileSettings
from chatnio_host.files.sniff import TYPE_LABELS, detect_type
from chatnio_host.files.text import truncate_text
from chatnio_host.files.types import AttachmentText, ParsedFile
from chatnio_host.registry import FileParser
from chatnio_host.relay.canonical import ImagePart, Part

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = ["FileService", "FileView", "attachment_block"]

logger = logging.getLogger(__name__)

PREVIEW_CHARS = 500
MAX_NAME_CHARS = 255
# Parsers are CPU-bound and run in threads; two at a time keeps the event loop responsive.
PARSE_CONCURRENCY = 2


@dataclass
class FileView:
    """The API view of one file; ``text`` is set only when the caller requests it."""

    id: str
    name: str
    type: str
    kind: str
    size: int
    chars: int
    tokens: int
    pages: int | None
    warnings: list[str]
    text_preview: str
    truncated: bool
    created_at: str
    text: str | None = None


def attachment_block(name: str, body: str) -> str:
    """Return ``body`` as a fenced ``file`` block headed by ``[[name]]``.

    The fence is one backtick longer than the longest run of backticks in ``body``, so text that
    contains its own fences cannot close the block early.
    """
    longest = 0
    run = 0
    for char in body:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}file\n[[{name}]]\n{body}\n{fence}"


def _count_tokens(text: str) -> int:
    if not text:
        return 0
    try:
        from chatnio_host.relay.estimate import count_tokens
    except ImportError:  # the relay's estimator is optional for this concept
        return max(1, len(text) // 4)
    return count_tokens(text)


def _clean_name(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(char for char in name if char.isprintable())
    return name[:MAX_NAME_CHARS] or "upload"


class FileService:
    """Uploads private to their owner, parsed by the ``register_file_parsers`` plugins."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._parse_slots = asyncio.Semaphore(PARSE_CONCURRENCY)

    async def settings(self) -> FileSettings:
        """Return the current ``files`` settings section."""
        return await self.ctx.site.get(SECTION, FileSettings)

    # --- parsing -----------------------------------------------------------------------------

    def parser_for(self, media_type: str) -> FileParser | None:
        """Return the registered parser with the highest priority for ``media_type``."""
        parsers = [p for p in self.ctx.plugins.registry.file_parsers.values() if media_type in p.mime_types]
        if not parsers:
            return None
        return max(parsers, key=lambda parser: parser.priority)

    async def parse(self, data: bytes, filename: str, settings: FileSettings) -> tuple[str, ParsedFile]:
        """Sniff, guard and parse one upload; return its type and the parser's result."""
        if not data:
            raise InvalidRequest(f"{filename}: the file is empty (0 bytes).", param="file", code="empty_file")
        # Sniffing decodes text and decompresses ZIP entries, so it runs off the event loop.
        media_type = await asyncio.to_thread(
            detect_type, data, filename, max_expanded_bytes=settings.max_expanded_bytes, max_entries=settings.max_entries
        )
        parser = self.parser_for(media_type)
        if parser is None:
            raise UnsupportedMediaType(
                f"{filename}: no parser is installed for {TYPE_LABELS.get(media_type, media_type)} ({media_type}). "
                "Install the chatnio-file-parse plugin or a plugin that reads this type.",
                param="file",
            )

        logger.info("parsing %s as %s with parser %s", filename, media_type, parser.name)
        async with self._parse_slots:
            try:
                if inspect.iscoroutinefunction(parser.parse):
                    call = parser.parse(data, filename)
                else:
                    call = asyncio.to_thread(parser.parse, data, filename)
                parsed = await asyncio.wait_for(call, timeout=settings.parse_timeout)
            except APIError:
                raise
            except TimeoutError as exc:
                logger.warning("parser %s timed out on %s", parser.name, filename)
                raise InvalidRequest(
                    f"{filename}: parsing the file timed out after {settings.parse_timeout:g} seconds.",
                    param="file",
                    code="parse_timeout",
                    status=422,
                ) from exc
            except Exception as exc:  # noqa: BLE001 - a parser library may raise anything on bad input
                logger.warning("parser %s failed on %s: %s: %s", parser.name, filename, type(exc).__name__, exc)
                raise InvalidRequest(
                    f"{filename}: the file is damaged or not a valid {TYPE_LABELS.get(media_type, media_type)}.",
                    param="file",
                    code="file_unreadable",
                ) from exc
        if not isinstance(parsed, ParsedFile):
            raise TypeError(f"file parser {parser.name!r} returned {type(parsed).__name__}, not ParsedFile")
        return media_type, parsed

    # --- storage -----------------------------------------------------------------------------

    async def upload(self, user_id: int, filename: str | None, data: bytes, *, model: str | None = None) -> FileView:
        """Parse and store one upload of ``user_id``; nothing is stored when parsing fails."""
        settings = await self.settings()
        name = _clean_name(filename)
        if len(data) > settings.max_bytes:
            raise PayloadTooLarge(
                f"{name}: the file is {len(data)} bytes, larger than the upload limit of "
                f"{settings.max_bytes} bytes ({settings.max_bytes / 1024 / 1024:g} MB).",
                param="file",
            )

        media_type, parsed = await self.parse(data, name, settings)
        text = parsed.text.replace("\r\n", "\n").replace("\x00", "") if parsed.kind == "text" else ""
        if parsed.kind == "text" and not text.strip() and not parsed.warnings:
            raise InvalidRequest(f"{name}: the file contains no text.", param="file", code="empty_file")

        stored_text = text[: settings.max_chars]
        tokens = await asyncio.to_thread(_count_tokens, stored_text)
        row = StoredFile(
            id=secrets.token_hex(16),
            user_id=user_id,
            name=name,
            media_type=(parsed.media_type or media_type) if parsed.kind == "image" else media_type,
            kind=parsed.kind,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            text=stored_text,
            chars=len(text),
            tokens=tokens,
            pages=parsed.pages,
            warnings=list(parsed.warnings),
            image_base64=base64.b64encode(data).decode("ascii") if parsed.kind == "image" else None,
            created_at=self.ctx.clock.now(),
        )
        async with self.ctx.db.transaction() as session:
            session.add(row)
        logger.info("user %s uploaded file %s (%s, %d bytes, %d characters)", user_id, row.id, media_type, row.size, row.chars)
        return self.view(row, settings, model=model, text=stored_text)

    async def upload_from_url(self, user_id: int, url: str, *, model: str | None = None) -> FileView:
        """Download the file at ``url`` (public addresses only, unless allow-listed) and store it."""
        settings = await self.settings()
        fetched = await fetch_url(
            url, max_bytes=settings.max_bytes, timeout=settings.fetch_timeout, allow_hosts=settings.fetch_allow_hosts
        )
        logger.info("user %s fetched %d bytes from a link for upload", user_id, len(fetched.data))
        return await self.upload(user_id, fetched.filename, fetched.data, model=model)

    def view(self, row: StoredFile, settings: FileSettings, *, model: str | None, text: str | None = None,
             include_text: bool = False) -> FileView:
        """Return the API view of ``row``; ``text`` is the stored text when already loaded."""
        limit = settings.chars_for(model)
        warnings = list(row.warnings or [])
        truncated = row.chars > limit
        if truncated:
            warnings.append(f"Only the first {limit} of {row.chars} characters are sent to the model.")
        shown = None
        preview = ""
        if text is not None:
            preview = text[:PREVIEW_CHARS]
            if include_text:
                shown, _ = truncate_text(text[:limit], limit, total=row.chars)
        return FileView(
            id=row.id,
            name=row.name,
            type=row.media_type,
            kind=row.kind,
            size=row.size,
            chars=row.chars,
            tokens=row.tokens,
            pages=row.pages,
            warnings=warnings,
            text_preview=preview,
            truncated=truncated,
            created_at=row.created_at.isoformat(),
            text=shown,
        )

    async def get(self, user_id: int, file_id: str, *, with_content: bool = False) -> StoredFile:
        """Return the file ``file_id`` of ``user_id``; 404 for missing files and other users' files."""
        async with self.ctx.db.session() as session:
            query = select(StoredFile).where(StoredFile.id == file_id, StoredFile.user_id == user_id)
            if with_content:
                query = query.options(undefer(StoredFile.text), undefer(StoredFile.image_base64))
            row = await session.scalar(query)
        if row is None:
            raise NotFound(f"File {file_id!r} was not found.", param="file_id")
        return row

    async def list(self, user_id: int, *, limit: int = 50, offset: int = 0) -> tuple[list[StoredFile], int]:
        """Return a page of ``user_id``'s files, newest first, and their total count."""
        async with self.ctx.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(StoredFile).where(StoredFile.user_id == user_id))
            rows = await session.scalars(
                select(StoredFile)
                .where(StoredFile.user_id == user_id)
                .order_by(StoredFile.created_at.desc(), StoredFile.id)
                .limit(limit)
                .offset(offset)
            )
            return list(rows), int(total or 0)

    async def delete(self, user_id: int, file_id: str) -> None:
        """Delete ``user_id``'s file ``file_id``; 404 when it is not theirs."""
        async with self.ctx.db.transaction() as session:
            row = await session.scalar(select(StoredFile).where(StoredFile.id == file_id, StoredFile.user_id == user_id))
            if row is None:
                raise NotFound(f"File {file_id!r} was not found.", param="file_id")
            await session.delete(row)
        logger.info("user %s deleted file %s", user_id, file_id)

    # --- attaching ---------------------------------------------------------------------------

    async def parts_for(self, user_id: int, file_ids: list[str], model: str) -> list[Part]:
        """Return message parts for the attached files, in the order of ``file_ids``.

        Text becomes one fenced ``file`` block per file, cut for ``model`` with the
        ``[truncated: N of M characters]`` marker. Images become image parts for vision models
        and a note for the others. A file without text becomes a note, never an empty block.
        """
        settings = await self.settings()
        limit = settings.chars_for(model)
        parts: list[Part] = []
        for file_id in file_ids:
            row = await self.get(user_id, file_id, with_content=True)
            parts.append(self._part_for(row, settings, model, limit))
        return parts

    def _part_for(self, row: StoredFile, settings: FileSettings, model: str, limit: int) -> Part:
        if row.kind == "image":
            if settings.can_see_images(model) and row.image_base64 is not None:
                return ImagePart(data=row.image_base64, media_type=row.media_type)
            note = f"[[{row.name}]] is an image attachment, but the model {model} cannot see images."
            return AttachmentText(text=note, file_id=row.id, filename=row.name)

        if not row.text.strip():
            reason = "; ".join(row.warnings or []) or "no text was found"
            note = f"[[{row.name}]] has no extractable text ({reason}), so its content is not available."
            return AttachmentText(text=note, file_id=row.id, filename=row.name)

        body, _ = truncate_text(row.text[:limit], limit, total=row.chars)
        return AttachmentText(text=attachment_block(row.name, body), file_id=row.id, filename=row.name)

    def as_dict(self, view: FileView) -> dict[str, Any]:
        """Return ``view`` as JSON-ready data."""
        data = dict(view.__dict__)
        if data["text"] is None:
            data.pop("text")
        return data

