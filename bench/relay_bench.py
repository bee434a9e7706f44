"""Benchmark the relay against the fake OpenAI vendor, and the vendor alone for comparison.

One run starts two fake vendors (fast, and slow with a delay between stream chunks) and one
``chatnio serve`` process (one uvicorn worker, SQLite, in-process state) in child processes,
sets up a channel, prices, a user and a key through the admin API, and measures:

1. non-streaming chat completions: requests/s, p50 and p99 latency at ``--concurrency``;
2. streams of ``--chunks`` content chunks: streams/s, p50 and p99 time to the last byte;
3. the host's resident memory (RSS) while ``--slow-streams`` slow streams are open at once.

Rows 1 and 2 run the same load twice, straight to the vendor and through the relay, and report
the relay as a ratio of the direct figures. The load generator is this process (aiohttp). The
results are printed as Markdown for docs/benchmarks.md. This is a benchmark, not a test:
numbers depend on the machine and on whatever else runs on it.

    .venv/bin/python bench/relay_bench.py --duration 8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHATNIO = str(Path(PYTHON).parent / "chatnio")
ROOT_PASSWORD = "bench-root-" + secrets.token_hex(6)
FAST_MODEL = "gpt-4o-mini"
SLOW_MODEL = "gpt-4o-slow"


@dataclass
class Measurement:
    """One load phase: completed requests, failures, wall time and per-request latencies."""

    done: int
    failed: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process {process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


def rss_kib(pid: int) -> int:
    """Return the resident set size of ``pid`` in KiB (Linux /proc)."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


@contextlib.asynccontextmanager
async def child(args: list[str], port: int, env: dict[str, str] | None = None) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Start a child process, wait until it listens on ``port``, and stop it afterwards."""
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await wait_for_port(port, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.returncode not in (0, -15) and process.stderr is not None:
            sys.stderr.write(process.stderr.read().decode(errors="replace")[-2000:])


async def setup_host(session: aiohttp.ClientSession, host_url: str, fast_url: str, slow_url: str,
                     users: int) -> list[str]:
    """Create channels, prices, and ``users`` users with points and an API key each; return the keys."""

    async def call(method: str, path: str, body: Any = None, token: str | None = None, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with session.request(method, host_url + path, json=body, headers=headers) as response:
            text = await response.text()
            if response.status != expect:
                raise RuntimeError(f"{method} {path} returned {response.status}: {text}")
            return await response.json(content_type=None)

    login = await call("POST", "/api/auth/login", {"username": "root", "password": ROOT_PASSWORD})
    admin = login["token"]
    await call("POST", "/api/admin/channels", {"name": "fast", "type": "openai", "endpoint": fast_url,
                                               "keys": "sk-bench-fast", "models": [FAST_MODEL]}, admin, 201)
    await call("POST", "/api/admin/channels", {"name": "slow", "type": "openai", "endpoint": slow_url,
                                               "keys": "sk-bench-slow", "models": [SLOW_MODEL]}, admin, 201)
    await call("PUT", "/api/admin/prices", {"rules": [
        {"type": "token", "models": [FAST_MODEL, SLOW_MODEL], "input": "0.001", "output": "0.001"}]}, admin)
    auth_settings = await call("GET", "/api/admin/settings/auth", None, admin)
    auth_settings["rate_limits"]["register_per_ip"] = f"{users + 10}/minute"
    await call("PUT", "/api/admin/settings/auth", auth_settings, admin)
    keys = []
    for number in range(users):
        user = await call("POST", "/api/auth/register", {"username": f"bench{number}", "password": "bench-password-1"},
                          None, 201)
        await call("POST", f"/api/admin/users/{user['user']['id']}/points", {"delta": "1000000"}, admin)
        key = await call("POST", "/api/keys", {"name": "bench"}, user["token"], 201)
        keys.append(key["key"])
    return keys


async def run_load(concurrency: int, duration: float, calls: list[Callable[[], Awaitable[bool]]]) -> Measurement:
    """Run ``concurrency`` loops for ``duration`` seconds; loop ``i`` uses ``calls[i % len(calls)]``."""
    latencies: list[float] = []
    failed = 0
    stop_at = time.perf_counter() + duration

    async def worker(one: Callable[[], Awaitable[bool]]) -> None:
        nonlocal failed
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            ok = await one()
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(calls[number % len(calls)]) for number in range(concurrency)))
    return Measurement(len(latencies), failed, time.perf_counter() - started, latencies)


def chat_call(session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: dict[str, Any]) -> Callable[[], Awaitable[bool]]:
    async def one() -> bool:
        try:
            async with session.post(url, json=body, headers=headers) as response:
                payload = await response.read()
                if response.status != 200:
                    return False
                if body.get("stream"):
                    return payload.endswith(b"data: [DONE]\n\n")
                return b'"choices"' in payload
        except aiohttp.ClientError:
            return False

    return one


async def slow_streams(session: aiohttp.ClientSession, url: str, headers: list[dict[str, str]], body: dict[str, Any],
                       count: int, pid: int) -> tuple[int, int, int, int, int]:
    """Open ``count`` streams at once; return (baseline RSS, peak RSS, peak open, completed, failed).

    A stream counts as open from its first body bytes until its end.
    """
    baseline = rss_kib(pid)
    peak = baseline
    open_now = 0
    open_peak = 0
    finished = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not finished.is_set():
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(0.1)

    async def one(header: dict[str, str]) -> bool:
        nonlocal open_now, open_peak
        opened = False
        tail = b""
        try:
            async with session.post(url, json=body, headers=header) as response:
                if response.status != 200:
                    return False
                async for chunk in response.content.iter_any():
                    if not opened:
                        opened = True
                        open_now += 1
                        open_peak = max(open_peak, open_now)
                    tail = (tail + chunk)[-64:]
            return tail.endswith(b"data: [DONE]\n\n")
        except aiohttp.ClientError:
            return False
        finally:
            if opened:
                open_now -= 1

    sampler = asyncio.create_task(sample())
    results = await asyncio.gather(*(one(headers[number % len(headers)]) for number in range(count)))
    finished.set()
    await sampler
    completed = sum(1 for result in results if result)
    return baseline, peak, open_peak, completed, count - completed


async def clear_redis(url: str) -> None:
    """Delete the host's keys (prefix ``chatnio:``) from the benchmark's Redis database."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match="chatnio:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        if match:
            memory = f", {int(match.group(1)) // 1024 // 1024} GiB RAM"
    return (f"{cpu}, {os.cpu_count()} logical CPUs{memory}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}; aiohttp {aiohttp.__version__}")


def report(args: argparse.Namespace, rows: dict[str, tuple[Measurement, Measurement]],
           memory: tuple[int, int, int, int, int]) -> str:
    lines = [
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {machine()}",
        f"Command: `.venv/bin/python bench/relay_bench.py {' '.join(sys.argv[1:])}`".replace("  ", " "),
        "",
        f"Stack {args.stack}, log level {args.log_level}, concurrency {args.concurrency}, {args.users} users, "
        f"{args.duration:g} s per phase; the fake vendors, the host and the load generator share the machine.",
        "",
        "| workload | direct to vendor | through the relay | relay / direct |",
        "|---|---|---|---|",
    ]
    for name, (direct, relay) in rows.items():
        lines.append(f"| {name}: per second | {direct.rate:,.0f} | {relay.rate:,.0f} | {relay.rate / direct.rate:.2f} |")
        for label, fraction in (("p50", 0.5), ("p99", 0.99)):
            d_ms, r_ms = direct.percentile(fraction) * 1000, relay.percentile(fraction) * 1000
            lines.append(f"| {name}: {label} ms | {d_ms:.1f} | {r_ms:.1f} | {r_ms / d_ms:.2f} |")
        lines.append(f"| {name}: failed | {direct.failed} | {relay.failed} | |")
    baseline, peak, open_peak, completed, failed = memory
    per_stream = (peak - baseline) / max(1, open_peak)
    lines += [
        "",
        f"{args.slow_streams} slow streams started at once through the relay ({args.chunks} chunks, "
        f"{args.slow_delay:g} s apart), at most {open_peak} open at the same time: host RSS "
        f"{baseline / 1024:.0f} MiB before, {peak / 1024:.0f} MiB at peak, about {per_stream:.0f} KiB per open "
        f"stream; {completed} completed, {failed} failed.",
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="chatnio-bench-"))
    fast_port, slow_port, host_port = free_port(), free_port(), free_port()
    vendor = [PYTHON, "-m", "chatnio_host.testing_vendors.openai"]
    env = {
        **os.environ,
        "PORT": str(host_port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "DATA_DIR": str(workdir),
        "SECRET": secrets.token_urlsafe(32),
        "ROOT_PASSWORD": ROOT_PASSWORD,
        "SERVE_STATIC": "false",
        "LOG_LEVEL": args.log_level,
        "CHATNIO_LOAD_PLUGINS": "openai",
    }
    env.pop("REDIS_URL", None)
    server_database: str | None = None
    if args.stack == "postgresql-redis":
        from chatnio_host.testing import POSTGRES_ADMIN_URL, REDIS_TEST_URL, create_server_database

        server_database = await create_server_database(POSTGRES_ADMIN_URL)
        env["DATABASE_URL"] = server_database
        env["REDIS_URL"] = REDIS_TEST_URL.rsplit("/", 1)[0] + "/15"
        await clear_redis(env["REDIS_URL"])
        subprocess.run([CHATNIO, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    words = " ".join(f"w{number}" for number in range(args.chunks))
    try:
        async with (
            child([*vendor, "--port", str(fast_port)], fast_port),
            child([*vendor, "--port", str(slow_port), "--chunk-delay", str(args.slow_delay)], slow_port),
            child([CHATNIO, "serve", "--host", "127.0.0.1"], host_port, env) as host,
        ):
            connector = aiohttp.TCPConnector(limit=0)
            timeout = aiohttp.ClientTimeout(total=300)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                host_url = f"http://127.0.0.1:{host_port}"
                keys = await setup_host(session, host_url, f"http://127.0.0.1:{fast_port}",
                                        f"http://127.0.0.1:{slow_port}", args.users)
                relay = (host_url + "/v1/chat/completions", [{"Authorization": f"Bearer {key}"} for key in keys])
                direct = (f"http://127.0.0.1:{fast_port}/v1/chat/completions",
                          [{"Authorization": "Bearer sk-bench-fast"}])
                plain = {"model": FAST_MODEL, "messages": [{"role": "user", "content": "hello"}]}
                streamed = {"model": FAST_MODEL, "stream": True, "messages": [{"role": "user", "content": words}]}

                rows: dict[str, tuple[Measurement, Measurement]] = {}
                for name, body in (("non-streaming requests", plain), (f"{args.chunks}-chunk streams", streamed)):
                    results = []
                    for label, (url, headers) in (("direct", direct), ("relay", relay)):
                        calls = [chat_call(session, url, header, body) for header in headers]
                        await run_load(args.concurrency, min(2.0, args.duration), calls)
                        results.append(await run_load(args.concurrency, args.duration, calls))
                        print(f"{name} {label}: {results[-1].rate:.0f}/s", file=sys.stderr)
                    rows[name] = (results[0], results[1])

                slow = {"model": SLOW_MODEL, "stream": True, "messages": [{"role": "user", "content": words}]}
                memory = await slow_streams(session, relay[0], relay[1], slow, args.slow_streams, host.pid)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if server_database is not None:
            from chatnio_host.testing import POSTGRES_ADMIN_URL, drop_server_database

            await drop_server_database(POSTGRES_ADMIN_URL, server_database)
            await clear_redis(env["REDIS_URL"])
    return report(args, rows, memory)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the relay against the fake OpenAI vendor.")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients in rows 1 and 2")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured phase")
    parser.add_argument("--chunks", type=int, default=50, help="content chunks per stream")
    parser.add_argument("--slow-streams", type=int, default=1000, help="concurrent slow streams for the RSS row")
    parser.add_argument("--slow-delay", type=float, default=0.1, help="seconds between chunks of a slow stream")
    parser.add_argument("--users", type=int, default=32, help="users with a key each; client loops share them")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the host under test")
    parser.add_argument("--stack", choices=("sqlite", "postgresql-redis"), default="sqlite",
                        help="sqlite: a SQLite file and in-process state; postgresql-redis: a temporary database on "
                             "the local PostgreSQL (CHATNIO_TEST_POSTGRES) and Redis database 15")
    args = parser.parse_args()
    print(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
