"""The plugin inside a test host: the search service uses it and the admin API configures it."""

from __future__ import annotations

from pathlib import Path

from chatnio_host.relay.canonical import ChatRequest, Message, TextPart
from chatnio_host.testing import TestHost
from chatnio_web_search.fakes import FakeDuckDuckGo


async def test_augment_with_duckduckgo(tmp_path: Path) -> None:
    results = [{"title": "Pancakes 101", "link": "https://a.test/1", "snippet": "Mix flour, eggs, milk."}]
    async with FakeDuckDuckGo(results) as server, TestHost(tmp_path, load_entry_points=True) as host:
        auth = host.ctx.services["auth"]
        async with host.ctx.db.transaction() as session:
            admin = await auth.create_user(session, username="searchadmin", password="secret123", role="admin")
        headers = {"Authorization": f"Bearer {await auth.issue_token(admin)}"}

        settings = {"provider": "duckduckgo", "providers": {"duckduckgo": {"endpoint": server.url}}}
        response = await host.client.put("/api/admin/settings/search", json=settings, headers=headers)
        assert response.status_code == 200, response.text

        tested = await host.client.post("/api/admin/settings/search/test", json={"query": "pancakes"}, headers=headers)
        assert tested.json()["ok"] is True
        assert tested.json()["results"][0]["title"] == "Pancakes 101"

        request = ChatRequest(model="gpt-4o", messages=[Message(role="user", content=[TextPart("pancakes?")])])
        outcome = await host.ctx.services["search"].augment(request)
        assert outcome.notice is None
        assert [source.title for source in outcome.sources] == ["Pancakes 101"]
        assert "Mix flour, eggs, milk." in request.messages[0].content[0].text
