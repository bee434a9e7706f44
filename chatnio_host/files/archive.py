"""Guard against ZIP bombs before any parser opens an Office file.

The guard decompresses every entry itself and counts the bytes that really come out, so the
sizes an archive declares in its headers (which an attacker controls) are never trusted.
Decompression stops as soon as the total passes the limit, so memory stays at one chunk.
"""

from __future__ import annotations

import io
import logging
import struct
import zipfile
import zlib

from chatnio_host.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["check_zip", "zip_names"]

logger = logging.getLogger(__name__)

LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
LOCAL_SIGNATURE = b"PK\x03\x04"
CHUNK_BYTES = 64 * 1024


def zip_names(data: bytes, filename: str) -> list[str]:
    """Return the entry names of the ZIP archive ``data``; 400 when it is not a readable ZIP."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise InvalidRequest(f"{filename}: the file is damaged or incomplete ({exc}).", param="file") from exc


def _entry_data_offset(data: bytes, info: zipfile.ZipInfo, filename: str) -> int:
    header_end = info.header_offset + LOCAL_HEADER.size
    if header_end > len(data):
        raise InvalidRequest(f"{filename}: the file is damaged or incomplete (entry {info.filename!r}).", param="file")
    fields = LOCAL_HEADER.unpack_from(data, info.header_offset)
    if fields[0] != LOCAL_SIGNATURE:
        raise InvalidRequest(f"{filename}: the file is damaged (bad header of entry {info.filename!r}).", param="file")
    name_length, extra_length = fields[9], fields[10]
    return header_end + name_length + extra_length


def _expanded_size(data: bytes, info: zipfile.ZipInfo, budget: int, filename: str) -> int:
    """Return how many bytes ``info`` expands to, stopping once it passes ``budget``."""
    start = _entry_data_offset(data, info, filename)
    # The compressed size in the header may lie too; the file's own length bounds it.
    end = min(len(data), start + info.compress_size) if info.compress_size else len(data)
    if info.compress_type == zipfile.ZIP_STORED:
        return end - start
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise UnsupportedMediaType(
            f"{filename}: entry {info.filename!r} uses ZIP compression method {info.compress_type}; "
            "only stored and deflated entries are supported.",
            param="file",
        )

    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    position = start
    pending = b""
    while True:
        if not pending:
            if position >= end or decompressor.eof:
                break
            pending = data[position : position + CHUNK_BYTES]
            position += len(pending)
        try:
            output = decompressor.decompress(pending, CHUNK_BYTES)
        except zlib.error as exc:
            raise InvalidRequest(
                f"{filename}: entry {info.filename!r} is damaged and cannot be decompressed.", param="file"
            ) from exc
        pending = decompressor.unconsumed_tail
        produced += len(output)
        if produced > budget:
            return produced
        if decompressor.eof:
            break
    return produced


def check_zip(data: bytes, filename: str, *, max_expanded_bytes: int, max_entries: int) -> None:
    """Raise 413 when the archive has too many entries or expands past ``max_expanded_bytes``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise InvalidRequest(f"{filename}: the file is damaged or incomplete ({exc}).", param="file") from exc

    with archive:
        entries = archive.infolist()
        if len(entries) > max_entries:
            logger.warning("upload %s rejected: %d archive entries", filename, len(entries))
            raise PayloadTooLarge(
                f"{filename}: the archive has {len(entries)} entries, more than the limit of {max_entries}.",
                param="file",
                code="archive_too_many_entries",
            )
        total = 0
        for info in entries:
            if info.is_dir():
                continue
            total += _expanded_size(data, info, max_expanded_bytes - total, filename)
            if total > max_expanded_bytes:
                logger.warning("upload %s rejected: archive expands beyond %d bytes", filename, max_expanded_bytes)
                raise PayloadTooLarge(
                    f"{filename}: the archive expands beyond the limit of {max_expanded_bytes} bytes.",
                    param="file",
                    code="archive_too_large",
                )
