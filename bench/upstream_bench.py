"""Measure the upstream client and the openai adapter alone, without the relay pipeline.

One process runs the fake OpenAI vendor, ``AiohttpUpstream`` and ``OpenAIAdapter``: sequential
latency per chat request (streamed from the vendor, as the relay does) and the rate at
``--concurrency``. Comparing it with bench/relay_bench.py separates the cost of talking to the
vendor from the rest of a relay request (authentication, admission, settlement, records).

    .venv/bin/python bench/upstream_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import chatnio_openai

from chatnio_host import ChatRequest, Message, TextPart, UpstreamTarget
from chatnio_host.relay.upstream import AiohttpUpstream
from chatnio_host.testing import make_settings
from chatnio_host.testing_vendors import FakeOpenAI


async def main_async(args: argparse.Namespace) -> None:
    async with FakeOpenAI() as vendor:
        vendor.record = False
        upstream = AiohttpUpstream(make_settings(Path(tempfile.mkdtemp(prefix="chatnio-bench-"))))
        await upstream.start()
        channel_type = {item.name: item for item in chatnio_openai.channel_types()}["openai"]
        adapter = channel_type.adapter(upstream, channel_type=channel_type)
        target = UpstreamTarget(channel_id=1, channel_type="openai", endpoint=vendor.url, key="sk-bench",
                                model="gpt-4o-mini")
        request = ChatRequest(model="gpt-4o-mini", messages=[Message(role="user", content=[TextPart("hello")])])

        async def one() -> None:
            async for _ in adapter.chat(request, target):
                pass

        for _ in range(20):
            await one()
        started = time.perf_counter()
        for _ in range(args.sequential):
            await one()
        sequential_ms = (time.perf_counter() - started) / args.sequential * 1000

        async def worker() -> None:
            for _ in range(args.per_worker):
                await one()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        rate = args.concurrency * args.per_worker / (time.perf_counter() - started)
        await upstream.close()
    print(f"sequential: {sequential_ms:.2f} ms per request; concurrency {args.concurrency}: {rate:,.0f} requests/s")


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the upstream client and the openai adapter alone.")
    parser.add_argument("--sequential", type=int, default=200, help="requests in the sequential phase")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent loops in the second phase")
    parser.add_argument("--per-worker", type=int, default=50, help="requests per loop in the second phase")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
