"""Plain text, Markdown, CSV, JSON and source code, decoded with their byte order mark if any."""

from __future__ import annotations

from chatnio_host import ParsedFile, UnsupportedMediaType, decode_text

__all__ = ["TEXT_TYPES", "parse_text"]

TEXT_TYPES = ("text/plain", "text/markdown", "text/csv", "application/json", "text/x-source")


def parse_text(data: bytes, filename: str) -> ParsedFile:
    """Return the decoded text; UTF-8, UTF-16 and UTF-32 with a byte order mark, or GB18030."""
    text = decode_text(data)
    if text is None:
        raise UnsupportedMediaType(
            f"{filename}: the content is not text in a known encoding. Save it as UTF-8 and upload it again.",
            param="file",
        )
    return ParsedFile(text=text)
