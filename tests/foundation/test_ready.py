"""Readiness follows the database, the shared state and the schema."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatnio_host.state import RedisState
from chatnio_host.testing import TestHost


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalRedis:
    """A redis-server of the test's own on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def local_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_ready_follows_redis(tmp_path: Path, local_redis: LocalRedis) -> None:
    state = RedisState(f"redis://127.0.0.1:{local_redis.port}/0", prefix="ready:")
    async with TestHost(tmp_path, state=state, migrate=True) as host:
        assert (await host.client.get("/ready")).status_code == 200

        local_redis.stop()
        stopped = await host.client.get("/ready")

        assert stopped.status_code == 503
        assert stopped.json()["checks"]["state"] == "unreachable"
        assert (await host.client.get("/health")).status_code == 200

        local_redis.start()
        assert (await host.client.get("/ready")).status_code == 200


async def test_ready_reports_schema_behind(tmp_path: Path) -> None:
    # create_all makes the tables but records no revision, as a database never migrated.
    async with TestHost(tmp_path) as host:
        response = await host.client.get("/ready")

        assert response.status_code == 503
        assert response.json()["checks"]["schema"] == "behind"
