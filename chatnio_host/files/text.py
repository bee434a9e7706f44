"""Text helpers for uploads: decoding bytes, and cutting text with a visible marker.

A "character" here is a Unicode code point (a Python ``str`` item), so a cut never splits an
emoji into surrogates or a UTF-8 sequence into U+FFFD.
"""

from __future__ import annotations

import codecs

__all__ = ["decode_text", "truncate_text", "truncation_marker"]

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Encodings tried in order for text without a byte order mark. GB18030 covers the Chinese files
# that are not UTF-8; a file that fails every one of them is treated as binary.
FALLBACK_ENCODINGS = ("utf-8", "gb18030")

# Share of control characters (other than tab, newline, carriage return and form feed) above
# which decoded bytes count as binary rather than text.
MAX_CONTROL_SHARE = 0.01


def _looks_like_text(text: str) -> bool:
    if not text:
        return True
    sample = text[:65536]
    controls = sum(1 for char in sample if ord(char) < 32 and char not in "\t\n\r\f")
    return controls / len(sample) <= MAX_CONTROL_SHARE


def decode_text(data: bytes) -> str | None:
    """Decode ``data`` as text, honouring a byte order mark; return None for binary data."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                return None
            return text if _looks_like_text(text) else None
    if b"\x00" in data[:8192]:
        return None
    for encoding in FALLBACK_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text if _looks_like_text(text) else None
    return None


def truncation_marker(kept: int, total: int) -> str:
    """Return the marker put after text that was cut to ``kept`` of ``total`` characters."""
    return f"[truncated: {kept} of {total} characters]"


def truncate_text(text: str, limit: int, *, total: int | None = None) -> tuple[str, bool]:
    """Cut ``text`` to ``limit`` code points and append the marker; return it and whether it was cut.

    ``total`` is the length of the original text when ``text`` is already a cut copy of it.
    """
    total = len(text) if total is None else total
    if total <= limit and len(text) <= limit:
        return text, False
    kept = text[:limit]
    return f"{kept}\n{truncation_marker(len(kept), total)}", True
