"""The plugin as the host sees it: loaded from its entry point, listed, and used for uploads."""

from __future__ import annotations

from pathlib import Path

from chatnio_file_parse import samples
from chatnio_host.plugins import load_plugins
from chatnio_host.testing import TestHost


def test_entry_point_registers_parsers() -> None:
    host = load_plugins(only={"file_parse"})
    report = host.report("file_parse")
    assert report is not None
    assert report.status == "loaded", report.reason
    assert report.distribution == "chatnio-file-parse"
    assert sorted(report.registered["file_parsers"]) == ["docx", "image", "pdf", "pptx", "text", "xlsx"]


def test_plugin_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, chatnio_file_parse; print(any(m in sys.modules for m in ('pypdf', 'docx', 'pptx', 'openpyxl')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


async def test_upload_through_host(tmp_path: Path) -> None:
    async with TestHost(tmp_path, load_entry_points=True) as host:
        auth = host.ctx.services["auth"]
        async with host.ctx.db.transaction() as session:
            user = await auth.create_user(session, username="carol", password="secret123")
        headers = {"Authorization": f"Bearer {await auth.issue_token(user)}"}

        response = await host.client.post(
            "/api/files", files={"file": ("deck.pptx", samples.deck_pptx(), "application/octet-stream")}, headers=headers
        )
        assert response.status_code == 201, response.text
        assert response.json()["type"].endswith("presentationml.presentation")
        assert "Slide One" in response.json()["text_preview"]


def test_cli_lists_parsers() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CHATNIO_LOAD_PLUGINS": "file_parse"}
    result = subprocess.run(
        [sys.executable, "-m", "chatnio_host", "plugins"], capture_output=True, text=True, env=env, check=True
    )
    assert "file_parse (chatnio-file-parse" in result.stdout
    assert "file_parsers: pdf, docx, pptx, xlsx, text, image" in result.stdout
