"""The e2e site: the real host serving ui/dist and a fake OpenAI vendor, for headless Chromium.

The host and the vendor run on 127.0.0.1 in a background thread with their own event loop, so the
tests can drive the browser with Playwright's synchronous API. Debian's Chromium is used
(`/usr/bin/chromium`); Playwright never downloads a browser here.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "ui" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
MODEL = "gpt-e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def missing_requirement() -> str | None:
    """Return why the e2e tests cannot run here, or None."""
    if not (DIST / "index.html").is_file():
        return "ui/dist is missing: run `make ui` (or `cd ui && npm ci && npm run build`) first"
    if not CHROMIUM.is_file():
        return "/usr/bin/chromium is missing: `apt-get install chromium fonts-noto-cjk`"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing: install the host's test extras"
    return None


class LiveSite:
    """The host and the fake vendor, served from a background thread."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.url = ""
        self.vendor: Any = None
        self.ctx: Any = None
        self.admin_token = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="e2e-site", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the e2e site did not start within 60 seconds")
        if self._error is not None:
            raise RuntimeError("the e2e site failed to start") from self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def seed_conversation(self, username: str, count: int) -> int:
        """Store a conversation of ``count`` short messages for ``username``; return its id."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._seed(username, count), self._loop)
        return future.result(60)

    async def _seed(self, username: str, count: int) -> int:
        from sqlalchemy import select

        from chatnio_host.db.models.chat import ChatMessage, Conversation
        from chatnio_host.db.models.user import User

        async with self.ctx.db.transaction() as session:
            user = await session.scalar(select(User).where(User.username == username))
            assert user is not None, f"user {username} not found"
            conversation = Conversation(user_id=user.id, title="Long conversation", model=MODEL, message_count=count)
            session.add(conversation)
            await session.flush()
            session.add_all([
                ChatMessage(
                    conversation_id=conversation.id,
                    role="user" if index % 2 == 0 else "assistant",
                    content=[{"type": "text", "text": f"Message number {index}"}],
                    model=MODEL,
                )
                for index in range(count)
            ])
            return conversation.id

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the test thread by start()
            self._error = error
            self._ready.set()

    async def _main(self) -> None:
        import chatnio_file_parse
        import chatnio_openai
        import uvicorn

        from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
        from chatnio_host.channels.schemas import ChannelCreate
        from chatnio_host.testing import TestHost
        from chatnio_host.testing_vendors.openai import FakeOpenAI

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.vendor = FakeOpenAI()
        await self.vendor.start()
        host = TestHost(
            self.tmp_path,
            plugins=[("openai", chatnio_openai), ("file_parse", chatnio_file_parse)],
            serve_static=True,
            static_dir=str(DIST),
        )
        try:
            async with host:
                ctx = host.ctx
                self.ctx = ctx
                config = await ctx.site.get(PRICES_SECTION, PricesConfig)
                await ctx.site.put(PRICES_SECTION, PricesConfig(rules=[*config.rules, PriceRule(type="none", models=[MODEL])]))
                await ctx.services["channels"].manager.create(
                    ChannelCreate(name="fake", type="openai", keys="sk-test", endpoint=self.vendor.url, models=[MODEL])
                )
                async with ctx.db.transaction() as session:
                    admin = await ctx.services["auth"].create_user(
                        session, username=f"admin{secrets.token_hex(3)}", password="e2e admin password", role="admin"
                    )
                    admin_id = admin.id
                token = await ctx.services["auth"].issue_token(await ctx.services["auth"].get_user(admin_id))
                self.admin_token = token
                saved = await host.client.put(
                    "/api/admin/market",
                    headers={"Authorization": f"Bearer {token}"},
                    json=[{"model": MODEL, "name": "E2E model", "description": "Fake vendor", "tags": ["test"],
                           "default": True}],
                )
                saved.raise_for_status()

                server = uvicorn.Server(
                    uvicorn.Config(host.app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
                )
                task = asyncio.create_task(server.serve())
                while not server.started:
                    if task.done():
                        task.result()
                    await asyncio.sleep(0.01)
                port = server.servers[0].sockets[0].getsockname()[1]
                self.url = f"http://127.0.0.1:{port}"
                self._ready.set()
                await self._stop.wait()
                server.should_exit = True
                await task
        finally:
            await self.vendor.stop()
