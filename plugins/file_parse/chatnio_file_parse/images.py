"""Images are kept as images: the parser only checks that Pillow can read them."""

from __future__ import annotations

import io
import logging

from chatnio_host import InvalidRequest, ParsedFile

__all__ = ["IMAGE_TYPES", "parse_image"]

logger = logging.getLogger(__name__)

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
FORMAT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}

# Pillow refuses images with more pixels than this; a decompression bomb gets a 400.
MAX_PIXELS = 64_000_000


def parse_image(data: bytes, filename: str) -> ParsedFile:
    """Verify the image and return it as an image file with its dimensions."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format or ""
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidRequest(f"{filename}: the image is damaged or unreadable ({exc}).", param="file") from exc
    media_type = FORMAT_TYPES.get(image_format)
    if media_type is None:
        raise InvalidRequest(f"{filename}: image format {image_format or 'unknown'} is not supported.", param="file")
    logger.debug("%s: %s image %dx%d", filename, image_format, width, height)
    return ParsedFile(kind="image", media_type=media_type, text=f"{width}x{height} {image_format} image")
