"""Word (python-docx) and PowerPoint (python-pptx) text, in document and slide order."""

from __future__ import annotations

import io
import logging
from typing import Any

from chatnio_host import InvalidRequest, ParsedFile

from chatnio_file_parse.tables import markdown_table

__all__ = ["DOCX", "PPTX", "parse_docx", "parse_pptx"]

logger = logging.getLogger(__name__)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def _docx_table_rows(table: Any) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # python-docx repeats a horizontally merged cell once per grid column it spans.
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(cell.text)
        rows.append(cells)
    return rows


def _heading_prefix(paragraph: Any) -> str:
    style = getattr(paragraph.style, "name", "") or ""
    if style.startswith("Heading "):
        level = style.removeprefix("Heading ").strip()
        if level.isdigit():
            return "#" * min(int(level), 6) + " "
    if style == "Title":
        return "# "
    return ""


def parse_docx(data: bytes, filename: str) -> ParsedFile:
    """Return paragraphs and tables in document order; tables become Markdown tables."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise InvalidRequest(f"{filename}: the Word document is damaged or incomplete ({exc}).", param="file") from exc

    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            table = markdown_table(_docx_table_rows(item))
            if table:
                blocks.append(table)
            continue
        text = item.text.strip()
        if text:
            blocks.append(_heading_prefix(item) + text)
    return ParsedFile(text="\n\n".join(blocks))


def _shape_texts(shape: Any) -> list[str]:
    texts: list[str] = []
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        table = markdown_table(rows)
        if table:
            texts.append(table)
    elif getattr(shape, "shape_type", None) is not None and hasattr(shape, "shapes"):
        for child in shape.shapes:
            texts.extend(_shape_texts(child))
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        text = shape.text_frame.text.strip()
        if text:
            texts.append(text)
    return texts


def parse_pptx(data: bytes, filename: str) -> ParsedFile:
    """Return each slide's title, text, tables and notes under a ``## Slide N`` heading, in order."""
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    try:
        presentation = Presentation(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise InvalidRequest(
            f"{filename}: the PowerPoint file is damaged or incomplete ({exc}).", param="file"
        ) from exc

    sections: list[str] = []
    slides = list(presentation.slides)
    for number, slide in enumerate(slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None and title_shape.has_text_frame else ""
        lines = [f"## Slide {number}" + (f": {title}" if title else "")]
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            lines.extend(_shape_texts(shape))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text.strip() if slide.notes_slide.notes_text_frame else ""
            if notes:
                lines.append(f"Notes: {notes}")
        sections.append("\n".join(lines))
    return ParsedFile(text="\n\n".join(sections), pages=len(slides))
