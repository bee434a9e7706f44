"""Chat Nio plugin that reads uploads: PDF, DOCX, PPTX, XLSX, text and code, and images.

Each parser imports its library inside the parse function, so loading the plugin costs the host
almost nothing at start. The host sniffs the type and guards ZIP-based files against bombs before
any parser runs; parsers raise ``InvalidRequest`` with the file name for encrypted or damaged files.
"""

from __future__ import annotations

from typing import Any

from chatnio_host import FileParser, hookimpl

from chatnio_file_parse.images import IMAGE_TYPES, parse_image
from chatnio_file_parse.office import DOCX, PPTX, parse_docx, parse_pptx
from chatnio_file_parse.pdf import PDF, parse_pdf
from chatnio_file_parse.sheets import XLSX, parse_xlsx
from chatnio_file_parse.text import TEXT_TYPES, parse_text

__all__ = ["PARSERS", "register_file_parsers"]

PARSERS = (
    FileParser(name="pdf", parse=parse_pdf, extensions=(".pdf",), mime_types=(PDF,)),
    FileParser(name="docx", parse=parse_docx, extensions=(".docx",), mime_types=(DOCX,)),
    FileParser(name="pptx", parse=parse_pptx, extensions=(".pptx",), mime_types=(PPTX,)),
    FileParser(name="xlsx", parse=parse_xlsx, extensions=(".xlsx",), mime_types=(XLSX,)),
    FileParser(
        name="text",
        parse=parse_text,
        extensions=(".txt", ".md", ".markdown", ".csv", ".json", ".py", ".js", ".ts", ".go", ".java", ".c", ".cpp"),
        mime_types=TEXT_TYPES,
    ),
    FileParser(
        name="image",
        parse=parse_image,
        extensions=(".png", ".jpg", ".jpeg", ".gif", ".webp"),
        mime_types=IMAGE_TYPES,
    ),
)


@hookimpl
def register_file_parsers(register: Any) -> None:
    """Register every parser of this plugin."""
    for parser in PARSERS:
        register(parser)
