"""PDF text through pypdf, page by page, with a marker for each page that has no text layer."""

from __future__ import annotations

import io
import logging

from chatnio_host import InvalidRequest, ParsedFile

__all__ = ["PDF", "parse_pdf"]

logger = logging.getLogger(__name__)

PDF = "application/pdf"


def _page_list(numbers: list[int]) -> str:
    return ", ".join(str(number) for number in numbers)


def parse_pdf(data: bytes, filename: str) -> ParsedFile:
    """Extract the text of every page; pages without a text layer get a marker and a warning."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidRequest(
                f"{filename}: the PDF is encrypted with a password. Save it without a password and upload it again.",
                param="file",
                code="file_encrypted",
            )
        pages = list(reader.pages)
    except FileNotDecryptedError as exc:
        raise InvalidRequest(
            f"{filename}: the PDF is encrypted with a password. Save it without a password and upload it again.",
            param="file",
            code="file_encrypted",
        ) from exc
    except (PdfReadError, ValueError, KeyError) as exc:
        raise InvalidRequest(f"{filename}: the PDF is damaged or incomplete ({exc}).", param="file") from exc

    numbered = len(pages) > 1
    sections: list[str] = []
    empty: list[int] = []
    for number, page in enumerate(pages, start=1):
        text = (page.extract_text() or "").strip()
        if not text:
            empty.append(number)
            sections.append(f"[page {number}: no extractable text]")
        elif numbered:
            sections.append(f"[page {number}]\n{text}")
        else:
            sections.append(text)

    if not pages:
        raise InvalidRequest(f"{filename}: the PDF has no pages.", param="file", code="empty_file")
    if len(empty) == len(pages):
        logger.info("%s: none of %d pages has a text layer", filename, len(pages))
        warning = (
            f"No text layer (scanned PDF): none of the {len(pages)} pages has extractable text, "
            "so the model cannot read it. Upload a PDF with selectable text, or the pages as images."
        )
        return ParsedFile(text="", warnings=[warning], pages=len(pages))

    warnings = []
    if empty:
        label = "page" if len(empty) == 1 else "pages"
        warnings.append(f"No extractable text on {label} {_page_list(empty)} (scanned or image-only).")
    return ParsedFile(text="\n\n".join(sections), warnings=warnings, pages=len(pages))
