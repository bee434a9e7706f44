"""Find an upload's type from its bytes, and check it against the type its name claims.

The name is only a hint: a PNG named ``fake.pdf`` is rejected with 415, and a ZIP-based file is
checked for bombs whatever its name says, before any parser opens it.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath

from chatnio_host.errors import InvalidRequest, UnsupportedMediaType
from chatnio_host.files.archive import check_zip, zip_names
from chatnio_host.files.text import decode_text
from chatnio_host.files.types import DOCX, IMAGE_TYPES, JSON, PDF, PPTX, XLSX

__all__ = ["TYPE_LABELS", "detect_type", "extension_of", "sniff"]

logger = logging.getLogger(__name__)

ZIP = "application/zip"
OLE = "application/x-ole-storage"
BINARY = "application/octet-stream"
TEXT = "text/plain"

TYPE_LABELS = {
    PDF: "a PDF document",
    DOCX: "a Word document (.docx)",
    PPTX: "a PowerPoint presentation (.pptx)",
    XLSX: "an Excel workbook (.xlsx)",
    ZIP: "a ZIP archive",
    OLE: "a legacy Office file",
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
    "image/gif": "a GIF image",
    "image/webp": "a WebP image",
    TEXT: "text",
    BINARY: "binary data",
}

# Types that an extension claims for binary formats; text extensions are in TEXT_EXTENSIONS.
BINARY_EXTENSIONS = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".pptx": PPTX,
    ".xlsx": XLSX,
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".zip": ZIP,
    ".doc": OLE,
    ".xls": OLE,
    ".ppt": OLE,
}

SOURCE_EXTENSIONS = frozenset(
    ".py .js .mjs .cjs .ts .tsx .jsx .java .kt .go .rs .c .h .cc .cpp .hpp .cs .rb .php .swift .scala "
    ".sh .bash .zsh .ps1 .sql .r .lua .pl .dart .vue .svelte .css .scss .less .html .htm .xml .yaml "
    ".yml .toml .ini .cfg .conf .env .dockerfile .gradle .tex .proto .graphql".split()
)

TEXT_EXTENSIONS = {".md": "text/markdown", ".markdown": "text/markdown", ".csv": "text/csv", ".json": JSON}


def extension_of(filename: str) -> str:
    """Return the lower-case extension of ``filename`` with its dot, or an empty string."""
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def sniff(data: bytes) -> str:
    """Return the MIME type that the first bytes of ``data`` show."""
    head = data[:16]
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE
    if decode_text(data) is not None:
        return TEXT
    return BINARY


def _office_type(names: list[str]) -> str:
    present = set(names)
    if "word/document.xml" in present:
        return DOCX
    if "ppt/presentation.xml" in present:
        return PPTX
    if "xl/workbook.xml" in present:
        return XLSX
    return ZIP


def _text_type(extension: str) -> str:
    if extension in TEXT_EXTENSIONS:
        return TEXT_EXTENSIONS[extension]
    if extension in SOURCE_EXTENSIONS:
        return "text/x-source"
    return TEXT


def detect_type(data: bytes, filename: str, *, max_expanded_bytes: int, max_entries: int) -> str:
    """Return the MIME type to parse ``data`` as, or raise 400, 413 or 415 naming the file."""
    sniffed = sniff(data)
    extension = extension_of(filename)
    claimed = BINARY_EXTENSIONS.get(extension)

    if sniffed == ZIP:
        check_zip(data, filename, max_expanded_bytes=max_expanded_bytes, max_entries=max_entries)
        sniffed = _office_type(zip_names(data, filename))

    if sniffed == OLE:
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise InvalidRequest(
                f"{filename}: the file is encrypted with a password. Save it without a password and upload it again.",
                param="file",
                code="file_encrypted",
            )
        raise UnsupportedMediaType(
            f"{filename}: legacy Office files (.doc, .xls, .ppt) are not supported. "
            "Save it as .docx, .xlsx or .pptx and upload it again.",
            param="file",
        )

    if sniffed == BINARY:
        raise UnsupportedMediaType(
            f"{filename}: the content is binary data of an unsupported type. "
            "Upload a PDF, Word, PowerPoint, Excel, text or image file.",
            param="file",
        )

    if sniffed == ZIP:
        raise UnsupportedMediaType(
            f"{filename}: ZIP archives are not supported. Upload the files inside it one by one.", param="file"
        )

    if sniffed == TEXT:
        if claimed is not None:
            _raise_mismatch(filename, claimed, sniffed)
        return _text_type(extension)

    if claimed is not None and claimed != sniffed:
        both_images = claimed in IMAGE_TYPES and sniffed in IMAGE_TYPES
        if not both_images:
            _raise_mismatch(filename, claimed, sniffed)
    return sniffed


def _raise_mismatch(filename: str, claimed: str, sniffed: str) -> None:
    logger.info("upload %s rejected: name claims %s, content is %s", filename, claimed, sniffed)
    raise UnsupportedMediaType(
        f"{filename}: the name says {TYPE_LABELS.get(claimed, claimed)} but the content is "
        f"{TYPE_LABELS.get(sniffed, sniffed)}. Rename the file to match its content, or upload the right file.",
        param="file",
    )
