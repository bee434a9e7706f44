"""Vendor keys and client keys stay out of URLs, error bodies and log lines."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import uvicorn
from matrix_world import VENDOR_KEYS, MatrixSite
from scenarios import MODELS

from chatnio_host.testing_vendors.anthropic import anthropic_error
from chatnio_host.testing_vendors.gemini import gemini_error


@pytest.mark.parametrize("channel_type", ["claude", "gemini"])
async def test_vendor_key_not_in_logs_or_errors(site: MatrixSite, channel_type: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = VENDOR_KEYS[channel_type]
    vendor = site.vendors[channel_type]
    # The vendor echoes the key in its error message and in a URL, as some vendors do.
    message = f"Invalid key {secret} for https://vendor.example/v1?key={secret}"
    for _attempt in range(2):
        if channel_type == "claude":
            vendor.enqueue(anthropic_error(401, "authentication_error", message))
        else:
            vendor.enqueue(gemini_error(400, message, "INVALID_ARGUMENT"))
    response = await site.host.client.post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {site.key}"},
        json={"model": MODELS[channel_type], "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code >= 400
    assert secret not in response.text
    assert len(vendor.requests) >= 1
    for recorded in vendor.requests:
        assert "key=" not in recorded.target
    leaked = [record.getMessage() for record in caplog.records if secret in record.getMessage()]
    assert leaked == []


async def test_query_key_masked_in_access_log(site: MatrixSite) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    config = uvicorn.Config(site.host.app, host="127.0.0.1", port=0, lifespan="off", log_level="info",
                            access_log=True)
    server = uvicorn.Server(config)
    access = logging.getLogger("uvicorn.access")
    handler = Collect()
    access.addHandler(handler)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            response = await client.post(f"/v1beta/models/{MODELS['gemini']}:generateContent",
                                         params={"key": site.key},
                                         json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
            assert response.status_code == 200, response.text
    finally:
        server.should_exit = True
        await task
        access.removeHandler(handler)
    lines = [handler.format(record) for record in records]
    assert any(":generateContent" in line for line in lines), lines
    assert not any(site.key in line for line in lines), lines
    assert any("key=****" + site.key[-4:] in line for line in lines), lines
