"""What a file parser returns, and the MIME types the host sniffs from file contents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from chatnio_host.relay.canonical import TextPart

__all__ = [
    "ATTACHMENT_PATTERN",
    "AttachmentText",
    "DOCX",
    "IMAGE_TYPES",
    "JSON",
    "PDF",
    "PPTX",
    "ParsedFile",
    "TEXT_TYPES",
    "XLSX",
]

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON = "application/json"

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
TEXT_TYPES = ("text/plain", "text/markdown", "text/csv", JSON, "text/x-source")
"""Types of files that are text; the host picks one of them from the file name's extension."""


@dataclass
class ParsedFile:
    """The result of parsing one upload.

    ``kind`` is ``text`` (``text`` holds the extracted text) or ``image`` (the host keeps the
    upload's bytes and sends them to vision models). ``warnings`` are short English sentences
    shown with the file, such as a page without extractable text. ``pages`` counts PDF pages,
    slides or sheets when the format has them.
    """

    text: str = ""
    kind: Literal["text", "image"] = "text"
    warnings: list[str] = field(default_factory=list)
    pages: int | None = None
    media_type: str | None = None
    """The image's MIME type, for ``kind == "image"``."""


@dataclass
class AttachmentText(TextPart):
    """A text part that carries an attached file, so web search can leave it out of its query.

    Adapters see an ordinary ``TextPart``. The text is a fenced block whose info string is
    ``file`` and whose first line is ``[[<file name>]]``; ``ATTACHMENT_PATTERN`` recognises such a
    block even after the part was stored and loaded again as a plain ``TextPart``.
    """

    file_id: str | None = None
    filename: str | None = None


ATTACHMENT_PATTERN = re.compile(r"\A(`{3,})file\n\[\[")
"""Matches the start of an attachment block."""
