"""Excel workbooks through openpyxl: each visible sheet as a Markdown table of saved values.

Formula cells show the value Excel saved with the file (openpyxl's ``data_only``), never the
formula. A merged range shows its value once, in its top-left cell. Dates read as ISO dates.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from typing import Any

from chatnio_host import InvalidRequest, ParsedFile

from chatnio_file_parse.tables import markdown_table

__all__ = ["XLSX", "parse_xlsx"]

logger = logging.getLogger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def format_value(value: Any) -> str:
    """Return a cell value as text: ISO dates, integers without ``.0``, empty for blanks."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sheet_rows(sheet: Any) -> list[list[str]]:
    rows = [[format_value(cell.value) for cell in row] for row in sheet.iter_rows()]
    rows = [row for row in rows if any(value.strip() for value in row)]
    if not rows:
        return []
    width = max(max((i + 1 for i, value in enumerate(row) if value.strip()), default=0) for row in rows)
    return [row[:width] for row in rows]


def parse_xlsx(data: bytes, filename: str) -> ParsedFile:
    """Return each visible sheet under ``## Sheet: <name>`` as a Markdown table; hidden sheets are skipped."""
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # NOTE: the full (not read-only) mode is needed for merged ranges; it keeps every cell in memory,
    # so the host's cap on expanded ZIP size is what bounds the memory a workbook can take.
    try:
        workbook = load_workbook(io.BytesIO(data), data_only=True, read_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InvalidRequest(f"{filename}: the Excel workbook is damaged or incomplete ({exc}).", param="file") from exc

    sections: list[str] = []
    warnings: list[str] = []
    hidden: list[str] = []
    try:
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible":
                hidden.append(sheet.title)
                continue
            table = markdown_table(_sheet_rows(sheet))
            sections.append(f"## Sheet: {sheet.title}\n\n{table}" if table else f"## Sheet: {sheet.title}\n\n(empty)")
    finally:
        workbook.close()
    if hidden:
        names = ", ".join(repr(name) for name in hidden)
        warnings.append(f"Hidden sheets were left out: {names}.")
    return ParsedFile(text="\n\n".join(sections), warnings=warnings, pages=len(sections))
