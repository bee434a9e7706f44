"""Sample files built with the real libraries, for this plugin's tests and the host's upload tests.

Each builder imports its library inside, so importing this module is cheap. The libraries are
this plugin's ``test`` extra: reportlab, xlsxwriter and img2pdf, plus the parsing libraries.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib

__all__ = [
    "bomb_docx",
    "bomb_docx_lying_sizes",
    "deck_pptx",
    "encrypted_pdf",
    "budget_xlsx",
    "mixed_pdf",
    "png_bytes",
    "scan_pdf",
    "table_docx",
    "text_pdf",
]


def text_pdf(pages: list[str]) -> bytes:
    """Return a PDF with a text layer, one page per string."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    document = canvas.Canvas(buffer)
    for text in pages:
        document.drawString(72, 720, text)
        document.showPage()
    document.save()
    return buffer.getvalue()


def png_bytes(text: str = "", size: tuple[int, int] = (200, 100)) -> bytes:
    """Return a PNG image, with ``text`` drawn on it when given."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    if text:
        ImageDraw.Draw(image).text((20, 20), text, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def scan_pdf(pages: int = 2) -> bytes:
    """Return a PDF whose pages are only images of the text "INVOICE 4711" (no text layer)."""
    import img2pdf

    images = [png_bytes("INVOICE 4711", (1000, 1400)) for _ in range(pages)]
    return img2pdf.convert(images)


def mixed_pdf() -> bytes:
    """Return a 3-page PDF: "Alpha page", an image-only page, then "Gamma page"."""
    from pypdf import PdfReader, PdfWriter

    text_pages = PdfReader(io.BytesIO(text_pdf(["Alpha page", "Gamma page"])))
    image_page = PdfReader(io.BytesIO(scan_pdf(1)))
    writer = PdfWriter()
    writer.add_page(text_pages.pages[0])
    writer.add_page(image_page.pages[0])
    writer.add_page(text_pages.pages[1])
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted_pdf(password: str = "s3cret") -> bytes:
    """Return a PDF with a text layer that opens only with ``password``."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(["Top secret"]))))
    writer.encrypt(user_password=password, owner_password=password, algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def budget_xlsx() -> bytes:
    """Return a workbook with a cached formula value, a date, a merged cell and a hidden sheet."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("Q1")
    sheet.write("A1", "Region")
    sheet.write("B1", "Units")
    sheet.write("A2", "EU")
    sheet.write("B2", 12)
    sheet.write("A3", "US")
    sheet.write("B3", 7)
    sheet.write("A4", "Total")
    sheet.write_formula("B4", "=SUM(B2:B3)", None, 19)
    sheet.write_datetime("C2", dt.datetime(2024, 7, 17), workbook.add_format({"num_format": "yyyy-mm-dd"}))
    sheet.merge_range("A6:B6", "Note: provisional")
    hidden = workbook.add_worksheet("Internal")
    hidden.write("A1", "internal-only")
    hidden.hide()
    workbook.close()
    return buffer.getvalue()


def table_docx() -> bytes:
    """Return a Word document: a paragraph, a 3x3 table, and a closing paragraph."""
    import docx

    document = docx.Document()
    document.add_paragraph("Intro paragraph.")
    rows = [["Region", "Product", "Units"], ["EU", "Cable", "12"], ["US", "Hub", "7"]]
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Closing paragraph.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def deck_pptx(titles: tuple[str, ...] = ("Slide One", "Slide Two")) -> bytes:
    """Return a presentation with one titled slide per entry of ``titles``."""
    from pptx import Presentation

    presentation = Presentation()
    for title in titles:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = f"Body of {title}"
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def bomb_docx(expanded_bytes: int = 300 * 1024 * 1024) -> bytes:
    """Return a valid-looking docx whose ``word/document.xml`` expands to about ``expanded_bytes``.

    The XML is streamed through the compressor, so building it never holds the expanded text.
    """
    paragraph = b"<w:p><w:r><w:t>A</w:t></w:r></w:p>"
    chunk = paragraph * (1024 * 1024 // len(paragraph))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w", force_zip64=True) as entry:
            entry.write(b'<?xml version="1.0"?><w:document><w:body>')
            written = 0
            while written < expanded_bytes:
                entry.write(chunk)
                written += len(chunk)
            entry.write(b"</w:body></w:document>")
    return buffer.getvalue()


def bomb_docx_lying_sizes(expanded_bytes: int = 300 * 1024 * 1024, declared: int = 1000) -> bytes:
    """Return ``bomb_docx`` with every uncompressed size in the headers patched to ``declared``."""
    data = bytearray(bomb_docx(expanded_bytes))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        infos = archive.infolist()
    for info in infos:
        # Local header: uncompressed size at offset 22 (ZIP64 keeps 0xFFFFFFFF there).
        struct.pack_into("<I", data, info.header_offset + 22, declared)
    end = data.rfind(b"PK\x05\x06")
    directory_offset = struct.unpack_from("<I", data, end + 16)[0]
    if directory_offset == 0xFFFFFFFF:
        locator = data.rfind(b"PK\x06\x07")
        zip64_end = struct.unpack_from("<Q", data, locator + 8)[0]
        directory_offset = struct.unpack_from("<Q", data, zip64_end + 48)[0]
    position = directory_offset
    while data[position : position + 4] == b"PK\x01\x02":
        struct.pack_into("<I", data, position + 24, declared)
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        position += 46 + name_length + extra_length + comment_length
    assert zlib  # kept for callers that inspect the deflate stream
    return bytes(data)
