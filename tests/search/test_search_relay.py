"""``web-`` models on the relay and the chat's search toggle, against fake search services.

The fake vendor records each upstream request body, so the tests check where the results went:
numbered, in a user message inside the nonce-tagged block, never in a system message.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import chatnio_file_parse
import httpx
import openai

from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.search.service import NOTICE_FAILED
from chatnio_host.search.settings import SECTION, SearchSettings
from chatnio_host.testing import TestHost
from chatnio_host.testing_vendors import Reply
from chatnio_host.testing_vendors.openai import FakeOpenAI
from chatnio_web_search.fakes import FakeDuckDuckGo, FakeSearXNG
from tests.relay.relay_world import add_channel, make_account, serve

QUESTION = "What is a good pancake recipe?"
DDG = [
    {"title": "Pancakes 101", "link": "https://a.test/1", "snippet": "Mix flour, eggs, milk."},
    {"title": "Crepes", "link": "https://b.test/2", "snippet": "Thin pancakes."},
]
SEARX = [
    {"title": "Pancakes 101", "url": "https://a.test/1", "content": "Mix flour, eggs, milk."},
    {"title": "Crepes", "url": "https://b.test/2", "content": "Thin pancakes."},
]


async def prepare(host: TestHost, vendor: FakeOpenAI, provider: str, endpoint: str) -> Any:
    config = PricesConfig(rules=[PriceRule(type="token", models=["gpt-4o", "gpt-4o-mini"], input=Decimal("0.5"),
                                           output=Decimal("1.5"))])
    await host.ctx.site.put(PRICES_SECTION, config)
    await add_channel(host, endpoint=vendor.url, models=["gpt-4o", "gpt-4o-mini"])
    await host.ctx.site.put(SECTION, SearchSettings(provider=provider, providers={provider: {"endpoint": endpoint, "timeout": 1}}))
    return await make_account(host, points=50)


def upstream_messages(vendor: FakeOpenAI) -> list[dict[str, Any]]:
    return vendor.requests_to("/chat/completions")[-1].json()["messages"]


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def check_placement(messages: list[dict[str, Any]]) -> None:
    """Assert the results sit numbered in one user message and no system message has them."""
    assert messages[0]["role"] == "system"
    assert message_text(messages[0]) == "You are PancakeBot."
    with_results = [m for m in messages if "<search_results id=" in message_text(m)]
    assert len(with_results) == 1
    assert with_results[0]["role"] == "user"
    text = message_text(with_results[0])
    assert "[1] Pancakes 101" in text
    assert "[2] Crepes" in text
    assert text.count("</search_results") == 1
    assert QUESTION in text
    assert all("Pancakes 101" not in message_text(m) for m in messages if m["role"] == "system")


async def ask_web_model(base_url: str, key: str) -> Any:
    sdk = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)
    return await sdk.chat.completions.create(
        model="web-gpt-4o",
        messages=[{"role": "system", "content": "You are PancakeBot."}, {"role": "user", "content": QUESTION}],
    )


async def test_web_model_with_duckduckgo(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI(reply_text="Use flour.") as vendor, FakeDuckDuckGo(DDG) as search:
        account = await prepare(host, vendor, "duckduckgo", search.url)
        async with serve(host) as base_url:
            answer = await ask_web_model(base_url, account.key)
        assert answer.model == "web-gpt-4o"
        assert answer.choices[0].message.content == "Use flour."
        assert [request.query_value("q") for request in search.requests] == [QUESTION]
        assert vendor.requests_to("/chat/completions")[-1].json()["model"] == "gpt-4o"
        check_placement(upstream_messages(vendor))


async def test_web_model_with_searxng(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI(reply_text="Use flour.") as vendor, FakeSearXNG(SEARX) as search:
        account = await prepare(host, vendor, "searxng", search.url)
        async with serve(host) as base_url:
            answer = await ask_web_model(base_url, account.key)
        assert answer.choices[0].message.content == "Use flour."
        assert search.requests[0].query_value("format") == "json"
        assert search.requests[0].query_value("q") == QUESTION
        check_placement(upstream_messages(vendor))


async def test_web_model_search_down(open_hosts: Any) -> None:
    search = FakeSearXNG(SEARX)
    await search.start()
    endpoint = search.url
    await search.stop()
    async with open_hosts() as (host,), FakeOpenAI(reply_text="Use flour.") as vendor:
        account = await prepare(host, vendor, "searxng", endpoint)
        async with serve(host) as base_url:
            answer = await ask_web_model(base_url, account.key)
        assert answer.choices[0].message.content == "Use flour."
        messages = upstream_messages(vendor)
        assert not any("search_results" in message_text(m) for m in messages)


async def read_chat(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    async with client.stream("POST", "/api/conversations/new/messages", headers=headers, json=body) as response:
        assert response.status_code == 200, await response.aread()
        kind = "message"
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                events.append((kind, json.loads(line.partition(":")[2])))
                if kind == "done":
                    break
    return events


async def test_chat_toggle_failure_notice(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI(reply_text="Use flour.") as vendor, FakeSearXNG(SEARX) as search:
        account = await prepare(host, vendor, "searxng", search.url)
        search.enqueue(Reply.error(500, "secret failure detail"))
        headers = {"Authorization": f"Bearer {account.token}"}
        async with serve(host) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            events = await read_chat(client, headers, {"text": QUESTION, "model": "gpt-4o-mini", "search": True})

        notices = [data for kind, data in events if kind == "notice"]
        assert len(notices) == 1
        assert notices[0]["message"] == NOTICE_FAILED
        shown = json.dumps(events)
        for leak in ("127.0.0.1", f":{search.port}", "secret failure detail", "HTTPStatusError"):
            assert leak not in shown
        assert "".join(data.get("text", "") for kind, data in events if kind == "delta") == "Use flour."
        assert not any("search_results" in message_text(m) for m in upstream_messages(vendor))


async def test_chat_toggle_leaves_attachment_out(open_hosts: Any) -> None:
    async with open_hosts() as (host,), FakeOpenAI(reply_text="Use flour.") as vendor, FakeSearXNG(SEARX) as search:
        for parser in chatnio_file_parse.PARSERS:
            host.ctx.plugins.registry.add("file_parsers", parser, "file_parse")
        account = await prepare(host, vendor, "searxng", search.url)
        headers = {"Authorization": f"Bearer {account.token}"}
        notes = ("CONFIDENTIAL-7Q " + "n" * 3_984).encode()
        async with serve(host) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            uploaded = await client.post("/api/files", files={"file": ("notes.txt", notes)}, headers=headers)
            assert uploaded.status_code == 201, uploaded.text
            body = {"text": QUESTION, "model": "gpt-4o-mini", "search": True, "file_ids": [uploaded.json()["id"]]}
            events = await read_chat(client, headers, body)

        assert len(search.requests) == 1
        query = search.requests[0].query_value("q")
        assert query == QUESTION
        assert "CONFIDENTIAL" not in query
        sources = [data for kind, data in events if kind == "search_results"]
        assert [source["title"] for source in sources[0]["sources"]] == ["Pancakes 101", "Crepes"]
        user_text = "".join(message_text(m) for m in upstream_messages(vendor) if m["role"] == "user")
        assert "CONFIDENTIAL-7Q" in user_text
        assert "[1] Pancakes 101" in user_text
