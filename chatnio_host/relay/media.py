"""Image bytes for vendors that want them inline: media types sniffed from the bytes themselves.

Clients often declare the wrong type (a PNG sent as ``data:image/jpeg``), and Anthropic returns
400 when ``media_type`` does not match the bytes, so adapters trust the magic bytes over the
declared type.
"""

from __future__ import annotations

import base64
import binascii
import logging

from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ImagePart

__all__ = ["VISION_MEDIA_TYPES", "decode_base64", "image_media_type", "sniff_media_type"]

logger = logging.getLogger(__name__)

VISION_MEDIA_TYPES: frozenset[str] = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""The image types that Anthropic and Gemini both accept."""

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
)


def sniff_media_type(head: bytes) -> str | None:
    """Return the media type that the first bytes of a file show, or None when unknown."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "image/heic"
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    return None


def decode_base64(data: str, *, param: str) -> bytes:
    """Decode standard or URL-safe base64; raise ``InvalidRequest`` naming ``param`` when invalid."""
    cleaned = "".join(data.split())
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"The image data in {param} is not valid base64.", param=param) from exc


def image_media_type(part: ImagePart, *, param: str, allowed: frozenset[str] = VISION_MEDIA_TYPES) -> str:
    """Return the media type of an inline image, sniffed from its bytes.

    Raises ``InvalidRequest`` when the bytes are not an image type in ``allowed``, so a BMP or a
    mislabelled file is rejected with a 400 before any vendor call.
    """
    if part.data is None:
        raise InvalidRequest(f"The image in {param} has no inline data.", param=param)
    head = decode_base64(part.data[:64], param=param)
    sniffed = sniff_media_type(head)
    if sniffed is None:
        declared = part.media_type or "unknown"
        message = (
            f"The image in {param} is not a PNG, JPEG, GIF or WebP file (declared {declared}); "
            "convert it to one of these types."
        )
        raise InvalidRequest(message, param=param)
    if sniffed not in allowed:
        supported = ", ".join(sorted(allowed))
        message = f"The image in {param} is {sniffed}, which this model does not accept; use one of {supported}."
        raise InvalidRequest(message, param=param)
    if part.media_type and part.media_type != sniffed:
        logger.info("image in %s declared %s but its bytes are %s; sending %s", param, part.media_type, sniffed, sniffed)
    return sniffed
