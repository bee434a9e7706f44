"""Profile the relay path in one process: statements, transactions and time per request.

The host runs in process (``TestHost``, the app called through httpx's ASGI transport) in
front of the fake OpenAI vendor, so what is measured is the host's own work per request. The
script sets up a channel, a price and ``--users`` users with points and a key. Then it runs
``--requests`` non-streaming chat completions, first one at a time and then at
``--concurrency``. It prints per request the wall and CPU milliseconds, the SQL statements by
verb and table, the commits and the shared-state calls. ``--profile N`` adds the N functions
of the sequential phase with the most cProfile time (``--sort``) and the time per package.

    .venv/bin/python bench/relay_profile.py                          # SQLite file, in-process state
    .venv/bin/python bench/relay_profile.py --stack postgresql-redis # local PostgreSQL, Redis db 15
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import collections
import contextlib
import io
import logging
import pstats
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chatnio_openai
from sqlalchemy import event

from chatnio_host.billing import ledger
from chatnio_host.billing.money import to_micro
from chatnio_host.billing.prices import PRICES_SECTION, PriceRule, PricesConfig
from chatnio_host.channels.schemas import ChannelCreate
from chatnio_host.db.session import Database
from chatnio_host.state import MemoryState, SharedState
from chatnio_host.testing import (
    POSTGRES_ADMIN_URL,
    REDIS_TEST_URL,
    TestHost,
    create_tables,
    drop_prefix,
    temporary_server_database,
)
from chatnio_host.testing_vendors import FakeOpenAI

MODEL = "gpt-4o-mini"


@dataclass
class SqlCounter:
    """Statements and commits seen by one engine."""

    statements: int = 0
    commits: int = 0
    connects: int = 0
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)

    def attach(self, db: Database) -> None:
        @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
        def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.statements += 1
            self.kinds[_kind(statement)] += 1

        @event.listens_for(db.engine.sync_engine, "commit")
        def _commit(_conn: Any) -> None:
            self.commits += 1

        @event.listens_for(db.engine.sync_engine.pool, "connect")
        def _connect(_dbapi: Any, _record: Any) -> None:
            self.connects += 1

    def reset(self) -> None:
        self.statements = 0
        self.commits = 0
        self.connects = 0
        self.kinds.clear()


class StateCounter:
    """Calls to the shared state by method and key, counted by wrapping the state's methods."""

    METHODS = ("get", "set", "delete", "incr", "compare_and_set", "publish", "stream_append")

    def __init__(self, state: SharedState) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        for name in self.METHODS:
            setattr(state, name, self._wrap(name, getattr(state, name)))

    def _wrap(self, name: str, method: Any) -> Any:
        async def counted(key: str, *args: Any, **kwargs: Any) -> Any:
            self.calls[f"{name} {re.sub(r'[0-9a-f]{6,}|[0-9]+', '<id>', key)}"] += 1
            return await method(key, *args, **kwargs)

        return counted


def _kind(statement: str) -> str:
    words = re.sub(r"\s+", " ", statement.strip()).split(" ")
    verb = words[0].upper()
    table = ""
    for marker in ("FROM", "INTO", "UPDATE"):
        if marker in (word.upper() for word in words):
            index = [word.upper() for word in words].index(marker)
            table = words[index + 1] if marker != "UPDATE" else words[index + 1]
            break
    return f"{verb} {table.strip(chr(34)).strip('`')}".strip()


@contextlib.asynccontextmanager
async def open_stack(stack: str, workdir: Path, pool: dict[str, int]) -> AsyncIterator[tuple[Database, SharedState]]:
    if stack == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{workdir / 'profile.db'}", **pool)
        await create_tables(db)
        try:
            yield db, MemoryState(prefix="profile:")
        finally:
            await db.dispose()
        return
    from chatnio_host.state import RedisState

    async with temporary_server_database(POSTGRES_ADMIN_URL) as url:
        db = Database(url, **pool)
        await create_tables(db)
        state = RedisState(REDIS_TEST_URL.rsplit("/", 1)[0] + "/15", prefix=f"profile:{secrets.token_hex(4)}:")
        try:
            yield db, state
        finally:
            await drop_prefix(state)
            await state.close()
            await db.dispose()


async def set_up(host: TestHost, vendor_url: str, users: int) -> list[str]:
    ctx = host.ctx
    await ctx.services["channels"].manager.create(
        ChannelCreate(name="fast", type="openai", endpoint=vendor_url, keys="sk-profile", models=[MODEL])
    )
    rule = PriceRule(type="token", models=[MODEL], input="0.001", output="0.001")
    await ctx.site.put(PRICES_SECTION, PricesConfig(rules=[rule]))
    keys = []
    auth = ctx.services["auth"]
    for number in range(users):
        async with ctx.db.transaction() as session:
            user = await auth.create_user(session, username=f"profile{number}", password="profile-password-1")
            user_id = user.id
            await ledger.credit(session, ctx.db.backend, user_id=user_id, delta=to_micro("1000000"), kind="admin",
                                now=ctx.clock.now())
        token = await auth.issue_token(await auth.get_user(user_id))
        response = await host.client.post("/api/keys", json={"name": "profile"}, headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        keys.append(response.json()["key"])
    return keys


async def one(host: TestHost, key: str) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}
    response = await host.client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    if response.status_code != 200:
        raise RuntimeError(f"the relay returned status {response.status_code}: {response.text}")


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="chatnio-profile-"))
    pool = {name: value for name, value in (("pool_size", args.pool_size), ("max_overflow", args.max_overflow))
            if value is not None}
    async with open_stack(args.stack, workdir, pool) as (db, state), FakeOpenAI() as vendor:
        vendor.record = False
        plugins = [("openai", chatnio_openai)]
        async with TestHost(workdir, plugins=plugins, db=db, state=state, create_schema=False,
                            log_level="WARNING") as host:
            keys = await set_up(host, vendor.url, args.users)
            counter = SqlCounter()
            counter.attach(db)
            state_calls = StateCounter(state)
            for number in range(20):
                await one(host, keys[number % len(keys)])
            await flush(host)

            counter.reset()
            state_calls.calls.clear()
            profiler = cProfile.Profile() if args.profile else None
            started, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            for number in range(args.requests):
                await one(host, keys[number % len(keys)])
            if profiler is not None:
                profiler.disable()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(f"sequential: {elapsed / args.requests * 1000:.2f} ms ({cpu / args.requests * 1000:.2f} ms CPU) per request, "
                  f"{counter.statements / args.requests:.1f} statements and {counter.commits / args.requests:.1f} "
                  "commits per request")
            for kind, count in counter.kinds.most_common():
                print(f"  {count / args.requests:5.2f}  {kind}")
            print(f"shared state: {sum(state_calls.calls.values()) / args.requests:.1f} calls per request")
            for call, count in state_calls.calls.most_common():
                print(f"  {count / args.requests:5.2f}  {call}")

            counter.reset()
            per_worker = max(1, args.requests // args.concurrency)

            latencies: list[float] = []

            async def worker(index: int) -> None:
                for number in range(per_worker):
                    begun = time.perf_counter()
                    await one(host, keys[(index + number) % len(keys)])
                    latencies.append(time.perf_counter() - begun)

            started, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(worker(index) for index in range(args.concurrency)))
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            total = per_worker * args.concurrency
            latencies.sort()
            p50, p99 = (latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 for q in (0.5, 0.99))
            print(f"concurrency {args.concurrency}: {total / elapsed:,.0f} requests/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
                  f"{cpu / total * 1000:.2f} ms CPU per request "
                  f"({counter.statements / total:.1f} statements, {counter.commits / total:.1f} commits per request, "
                  f"{counter.connects} new connections)")
            await flush(host)
            if profiler is not None:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.profile)
                print(out.getvalue())
                print(by_package(profiler))


def by_package(profiler: cProfile.Profile) -> str:
    """Return the profile's own time grouped by package, largest first."""
    totals: collections.Counter[str] = collections.Counter()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, own, _cum, _callers) in stats.items():
        match = re.search(r"site-packages/([^/]+)", filename)
        if match:
            package = match.group(1)
        elif "/chatnio_host/" in filename:
            package = "chatnio_host/" + filename.split("/chatnio_host/", 1)[1].split("/", 1)[0]
        elif filename == "~":
            package = "builtin " + name.split(" of ")[0][:40]
        else:
            package = "stdlib " + Path(filename).name
        totals[package] += own
    total = sum(totals.values())
    lines = [f"own time by package ({total:.2f} s):"]
    lines += [f"  {seconds / total * 100:5.1f} %  {package}" for package, seconds in totals.most_common(25)]
    return "\n".join(lines)


async def flush(host: TestHost) -> None:
    """Write counters a batched writer still holds, when billing has one."""
    flusher = getattr(host.ctx.services["billing"], "flush", None)
    if flusher is not None:
        await flusher()


def main() -> None:
    parser = argparse.ArgumentParser(description="Profile the relay path in one process.")
    parser.add_argument("--stack", choices=("sqlite", "postgresql-redis"), default="sqlite")
    parser.add_argument("--requests", type=int, default=300, help="requests per phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--profile", type=int, default=0, help="print this many cProfile rows (0: no profile)")
    parser.add_argument("--pool-size", type=int, default=None, help="override the engine's pool_size")
    parser.add_argument("--max-overflow", type=int, default=None, help="override the engine's max_overflow")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key: cumulative or tottime")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
