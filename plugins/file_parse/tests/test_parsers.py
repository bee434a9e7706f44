"""The parsers on real files built with the same libraries users' office programs write."""

from __future__ import annotations

import pytest

from chatnio_file_parse import PARSERS, samples
from chatnio_file_parse.images import parse_image
from chatnio_file_parse.office import parse_docx, parse_pptx
from chatnio_file_parse.pdf import parse_pdf
from chatnio_file_parse.sheets import format_value, parse_xlsx
from chatnio_file_parse.text import parse_text
from chatnio_host import InvalidRequest, UnsupportedMediaType


def test_pdf_text_layer() -> None:
    parsed = parse_pdf(samples.text_pdf(["Hello from a PDF"]), "hello.pdf")
    assert parsed.text == "Hello from a PDF"
    assert parsed.pages == 1
    assert parsed.warnings == []


def test_pdf_mixed_pages_marked() -> None:
    parsed = parse_pdf(samples.mixed_pdf(), "mixed.pdf")
    assert parsed.text.index("Alpha page") < parsed.text.index("[page 2: no extractable text]")
    assert parsed.text.index("[page 2: no extractable text]") < parsed.text.index("Gamma page")
    assert parsed.warnings == ["No extractable text on page 2 (scanned or image-only)."]


def test_pdf_scanned_warns() -> None:
    parsed = parse_pdf(samples.scan_pdf(), "scan.pdf")
    assert parsed.text == ""
    assert parsed.pages == 2
    assert parsed.warnings[0].startswith("No text layer (scanned PDF)")


def test_pdf_encrypted_rejected() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_pdf(samples.encrypted_pdf(), "locked.pdf")
    assert "locked.pdf" in caught.value.message
    assert "encrypted" in caught.value.message


def test_pdf_damaged_rejected() -> None:
    data = samples.text_pdf(["Hello"])
    with pytest.raises(InvalidRequest):
        parse_pdf(data[:200], "cut.pdf")


def test_docx_table_in_order() -> None:
    text = parse_docx(samples.table_docx(), "table.docx").text
    lines = text.splitlines()
    assert lines[0] == "Intro paragraph."
    assert lines[-1] == "Closing paragraph."
    assert "| Region | Product | Units |" in lines
    assert "| EU | Cable | 12 |" in lines
    assert lines.index("| EU | Cable | 12 |") < lines.index("| US | Hub | 7 |")


def test_pptx_slide_order() -> None:
    text = parse_pptx(samples.deck_pptx(("Slide One", "Slide Two", "Slide Three")), "deck.pptx").text
    assert text.index("## Slide 1: Slide One") < text.index("## Slide 2: Slide Two") < text.index("Slide Three")
    assert "Body of Slide Two" in text


def test_xlsx_values_not_formulas() -> None:
    parsed = parse_xlsx(samples.budget_xlsx(), "budget.xlsx")
    lines = parsed.text.splitlines()
    assert "| Total | 19 |  |" in lines
    assert "=SUM(" not in parsed.text
    assert parsed.text.count("Note: provisional") == 1
    assert "| EU | 12 | 2024-07-17 |" in lines
    assert "internal-only" not in parsed.text
    assert parsed.warnings == ["Hidden sheets were left out: 'Internal'."]


def test_xlsx_value_formats() -> None:
    import datetime as dt

    assert format_value(12.0) == "12"
    assert format_value(0.5) == "0.5"
    assert format_value(None) == ""
    assert format_value(dt.datetime(2024, 7, 17)) == "2024-07-17"
    assert format_value(dt.datetime(2024, 7, 17, 9, 30)) == "2024-07-17 09:30:00"
    assert format_value(True) == "TRUE"


def test_text_encodings() -> None:
    assert parse_text("\ufeff你好, world".encode("utf-16-le"), "u16.txt").text == "你好, world"
    assert parse_text("\ufeff你好".encode("utf-16-be"), "u16be.txt").text == "你好"
    assert parse_text("\ufeffhello".encode("utf-8"), "bom.txt").text == "hello"
    assert parse_text("中文内容".encode("gb18030"), "gb.txt").text == "中文内容"


def test_text_binary_rejected() -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_text(b"\x00\x01\x02\x03" * 100, "blob.txt")


def test_image_kept_as_image() -> None:
    parsed = parse_image(samples.png_bytes("hi"), "photo.png")
    assert parsed.kind == "image"
    assert parsed.media_type == "image/png"


def test_image_damaged_rejected() -> None:
    data = samples.png_bytes("hi")
    with pytest.raises(InvalidRequest):
        parse_image(data[:40], "broken.png")


def test_parser_names_unique() -> None:
    names = [parser.name for parser in PARSERS]
    assert names == ["pdf", "docx", "pptx", "xlsx", "text", "image"]
