"""Markdown tables from rows of cell text, shared by the Word, PowerPoint and Excel parsers."""

from __future__ import annotations

__all__ = ["markdown_table"]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown_table(rows: list[list[str]]) -> str:
    """Return ``rows`` as a Markdown table whose first row is the header; rows are padded to one width."""
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    padded = [[_cell(value) for value in row] + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(padded[0]) + " |", "|" + " --- |" * width]
    lines.extend("| " + " | ".join(row) + " |" for row in padded[1:])
    return "\n".join(lines)
