"""Uploads through ``POST /api/files``: real files built with the real libraries, parsed by the plugin."""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any

from chatnio_file_parse import samples

from chatnio_host.testing import TestHost

from tests.files.conftest import Account

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def upload(host: TestHost, account: Account, name: str, data: bytes, **form: str) -> Any:
    return await host.client.post(
        "/api/files", files={"file": (name, data, "application/octet-stream")}, data=form, headers=account.headers
    )


async def full_text(host: TestHost, account: Account, file_id: str, model: str | None = None) -> str:
    params = {"model": model} if model else None
    response = await host.client.get(f"/api/files/{file_id}", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()["text"]


async def test_text_pdf_upload(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "hello.pdf", samples.text_pdf(["Hello from a PDF"]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {"id", "name", "type", "size", "text_preview", "tokens"}
    assert body["type"] == "application/pdf"
    assert "Hello from a PDF" in body["text_preview"]
    assert body["tokens"] > 0


async def test_docx_table_keeps_rows(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "table.docx", samples.table_docx())
    assert response.status_code == 201, response.text
    text = await full_text(files_host, alice, response.json()["id"])
    intro = text.index("Intro paragraph.")
    closing = text.index("Closing paragraph.")
    row = next(line for line in text.splitlines() if "Cable" in line)
    assert intro < text.index("Region") < closing
    assert "EU" in row and "12" in row
    assert text.index("| EU") < text.index("| US")


async def test_xlsx_cached_values(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "budget.xlsx", samples.budget_xlsx())
    assert response.status_code == 201, response.text
    assert response.json()["type"] == XLSX
    text = await full_text(files_host, alice, response.json()["id"])
    total_row = next(line for line in text.splitlines() if "Total" in line)
    assert "19" in total_row
    assert "=SUM(" not in text
    assert text.count("Note: provisional") == 1
    assert "2024-07-17" in text
    assert "45490" not in text
    assert "internal-only" not in text
    assert any("Internal" in warning for warning in response.json()["warnings"])


async def test_pptx_slide_order(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "deck.pptx", samples.deck_pptx())
    assert response.status_code == 201, response.text
    text = await full_text(files_host, alice, response.json()["id"])
    assert text.index("Slide One") < text.index("Slide Two")


async def test_scanned_pdf_warns(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "scan.pdf", samples.scan_pdf())
    assert response.status_code == 201, response.text
    warnings = " ".join(response.json()["warnings"])
    assert "no text layer (scanned pdf)" in warnings.lower()
    parts = await files_host.ctx.services["files"].parts_for(alice.id, [response.json()["id"]], "gpt-4o")
    assert len(parts) == 1
    assert "```file" not in parts[0].text
    assert "no extractable text" in parts[0].text


async def test_mixed_pdf_page_marker(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "mixed.pdf", samples.mixed_pdf())
    assert response.status_code == 201, response.text
    text = await full_text(files_host, alice, response.json()["id"])
    assert text.index("Alpha page") < text.index("[page 2: no extractable text]") < text.index("Gamma page")
    assert any("page 2" in warning for warning in response.json()["warnings"])


async def test_encrypted_pdf_rejected(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "locked.pdf", samples.encrypted_pdf())
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "locked.pdf" in message
    assert "encrypted" in message


async def test_truncated_docx_rejected(files_host: TestHost, alice: Account) -> None:
    data = samples.table_docx()
    response = await upload(files_host, alice, "cut.docx", data[: len(data) // 2])
    assert response.status_code == 400, response.text
    assert "cut.docx" in response.json()["error"]["message"]
    assert "Traceback" not in response.text


async def test_renamed_binary_rejected(files_host: TestHost, alice: Account) -> None:
    binary = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8
    for name in ("notes.txt", "report.docx", "program"):
        response = await upload(files_host, alice, name, binary)
        assert response.status_code == 415, (name, response.text)
        assert name in response.json()["error"]["message"]


async def test_png_named_pdf_rejected(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "fake.pdf", samples.png_bytes())
    assert response.status_code == 415, response.text
    message = response.json()["error"]["message"]
    assert "fake.pdf" in message
    assert "PNG" in message


async def test_empty_file_rejected(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "empty.pdf", b"")
    assert response.status_code == 400, response.text
    assert "empty" in response.json()["error"]["message"]


async def test_upload_over_limit_413(files_host: TestHost, alice: Account) -> None:
    response = await upload(files_host, alice, "big.txt", b"a" * (25 * 1024 * 1024))
    assert response.status_code == 413, response.text
    assert "20 MB" in response.json()["error"]["message"]


async def test_zip_bombs_rejected(files_host: TestHost, alice: Account) -> None:
    bomb = samples.bomb_docx()
    lying = samples.bomb_docx_lying_sizes()
    cases = [("bomb.docx", bomb), ("bomb-lying.docx", lying), ("bomb.xlsx", bomb), ("bomb.pptx", bomb), ("bomb.doc", bomb)]
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, data in cases:
        started = time.monotonic()
        health_times: list[float] = []

        async def probe_health() -> None:
            while time.monotonic() - started < 1.0:
                probe_started = time.monotonic()
                health = await files_host.client.get("/health")
                assert health.status_code < 500
                health_times.append(time.monotonic() - probe_started)
                await asyncio.sleep(0.05)

        response, _ = await asyncio.gather(upload(files_host, alice, name, data), probe_health())
        assert response.status_code == 413, (name, response.text)
        assert "expands beyond" in response.json()["error"]["message"]
        assert time.monotonic() - started < 5
        assert health_times
        assert max(health_times) < 1.0
    peak_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert peak_growth_kib < 100 * 1024
    listing = await files_host.client.get("/api/files", headers=alice.headers)
    assert listing.json()["total"] == 0


async def test_utf16_text_exact(files_host: TestHost, alice: Account) -> None:
    data = "\ufeff你好, world".encode("utf-16-le")
    response = await upload(files_host, alice, "u16.txt", data)
    assert response.status_code == 201, response.text
    assert await full_text(files_host, alice, response.json()["id"]) == "你好, world"


async def test_truncation_by_code_points(files_host: TestHost, alice: Account) -> None:
    data = ("汉😀" * 6000).encode("utf-8")
    response = await upload(files_host, alice, "long.txt", data, model="gpt-3.5-turbo")
    assert response.status_code == 201, response.text
    assert response.json()["truncated"] is True
    file_id = response.json()["id"]

    text = await full_text(files_host, alice, file_id, model="gpt-3.5-turbo")
    kept, marker = text.rsplit("\n", 1)
    assert len(kept) == 5000
    assert kept.endswith("😀")
    assert "\ufffd" not in kept
    assert not any(0xD800 <= ord(char) <= 0xDFFF for char in kept)
    assert marker == "[truncated: 5000 of 12000 characters]"

    parts = await files_host.ctx.services["files"].parts_for(alice.id, [file_id], "gpt-3.5-turbo")
    assert "[truncated: 5000 of 12000 characters]" in parts[0].text
    assert parts[0].text.startswith("```file\n[[long.txt]]\n")


async def test_files_private_to_owner(files_host: TestHost, alice: Account, bob: Account) -> None:
    response = await upload(files_host, alice, "mine.txt", b"only for alice")
    file_id = response.json()["id"]
    assert (await files_host.client.get(f"/api/files/{file_id}", headers=bob.headers)).status_code == 404
    assert (await files_host.client.delete(f"/api/files/{file_id}", headers=bob.headers)).status_code == 404
    assert (await files_host.client.get("/api/files", headers=bob.headers)).json()["total"] == 0
    assert (await files_host.client.get(f"/api/files/{file_id}")).status_code == 401

    deleted = await files_host.client.delete(f"/api/files/{file_id}", headers=alice.headers)
    assert deleted.status_code == 204
    assert (await files_host.client.get(f"/api/files/{file_id}", headers=alice.headers)).status_code == 404


async def test_parts_for_other_user_404(files_host: TestHost, alice: Account, bob: Account) -> None:
    import pytest

    from chatnio_host.errors import NotFound

    response = await upload(files_host, alice, "mine.txt", b"only for alice")
    with pytest.raises(NotFound):
        await files_host.ctx.services["files"].parts_for(bob.id, [response.json()["id"]], "gpt-4o")


async def test_image_parts_by_model(files_host: TestHost, alice: Account) -> None:
    from chatnio_host.relay.canonical import ImagePart, TextPart

    image = samples.png_bytes("hi")
    response = await upload(files_host, alice, "photo.png", image)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "image"
    file_id = response.json()["id"]
    content = await files_host.client.get(f"/api/files/{file_id}/content", headers=alice.headers)
    assert content.content == image
    assert content.headers["content-type"] == "image/png"
    service = files_host.ctx.services["files"]

    vision = await service.parts_for(alice.id, [file_id], "gpt-4o")
    assert isinstance(vision[0], ImagePart)
    assert vision[0].media_type == "image/png"
    assert vision[0].data

    blind = await service.parts_for(alice.id, [file_id], "gpt-3.5-turbo")
    assert isinstance(blind[0], TextPart)
    assert "cannot see images" in blind[0].text


async def test_fence_inside_file_content(files_host: TestHost, alice: Account) -> None:
    content = b"before\n```\nafter"
    response = await upload(files_host, alice, "readme.md", content)
    parts = await files_host.ctx.services["files"].parts_for(alice.id, [response.json()["id"]], "gpt-4o")
    assert parts[0].text.startswith("````file\n[[readme.md]]\n")
    assert parts[0].text.endswith("\n````")


async def test_admin_changes_upload_limit(files_host: TestHost, alice: Account, admin: Account) -> None:
    current = await files_host.client.get("/api/admin/settings/files", headers=admin.headers)
    assert current.status_code == 200, current.text
    assert current.json()["max_bytes"] == 20 * 1024 * 1024
    assert (await files_host.client.get("/api/admin/settings/files", headers=alice.headers)).status_code == 403

    changed = dict(current.json(), max_bytes=1024)
    response = await files_host.client.put("/api/admin/settings/files", json=changed, headers=admin.headers)
    assert response.status_code == 200, response.text
    too_big = await upload(files_host, alice, "notes.txt", b"x" * 2048)
    assert too_big.status_code == 413, too_big.text


async def test_unsupported_zip_rejected(files_host: TestHost, alice: Account) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    response = await upload(files_host, alice, "stuff.zip", buffer.getvalue())
    assert response.status_code == 415, response.text


async def test_stored_text_limit_per_model(files_host: TestHost, alice: Account) -> None:
    from chatnio_host.files.settings import SECTION, FileSettings

    settings = FileSettings(max_chars=50, model_chars=20, high_context_models=["big-model"])
    await files_host.ctx.site.put(SECTION, settings)
    response = await upload(files_host, alice, "digits.txt", ("0123456789" * 10).encode())
    assert response.status_code == 201, response.text
    assert response.json()["chars"] == 100
    file_id = response.json()["id"]

    big = await full_text(files_host, alice, file_id, model="big-model")
    assert big == "0123456789" * 5 + "\n[truncated: 50 of 100 characters]"
    small = await full_text(files_host, alice, file_id, model="small-model")
    assert small == "0123456789" * 2 + "\n[truncated: 20 of 100 characters]"


async def test_uploads_never_render_as_pages(files_host: TestHost, alice: Account) -> None:
    svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.__xss='p11'\"/>"
    response = await upload(files_host, alice, "evil.svg", svg)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "text"
    assert response.json()["type"] == "text/plain"
    content = await files_host.client.get(f"/api/files/{response.json()['id']}/content", headers=alice.headers)
    assert content.headers["content-type"].startswith("text/plain")
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-security-policy"].startswith("sandbox")
    assert content.headers["content-disposition"].startswith("attachment;")

    name = "\"><img src=x onerror=window.__xss='p10'>.txt"
    named = await upload(files_host, alice, name, b"hello")
    assert named.status_code == 201, named.text
    # Multipart clients send the double quote as %22, as browsers do; the rest arrives verbatim.
    assert named.json()["name"].endswith("><img src=x onerror=window.__xss='p10'>.txt")
    file_id = named.json()["id"]
    download = await files_host.client.get(f"/api/files/{file_id}/content", headers=alice.headers)
    assert "<img" not in download.headers["content-disposition"]
