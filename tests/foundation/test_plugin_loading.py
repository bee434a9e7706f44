"""Plugin loading through real entry points: failures, duplicates, versions, narrowing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.foundation.fake_dists import write_plugin_dist

REPO = Path(__file__).resolve().parents[2]

GOOD = """
from chatnio_host import ChannelType, ChannelAdapter, hookimpl

class EchoAdapter(ChannelAdapter):
    async def chat(self, request, target):
        if False:
            yield None

@hookimpl
def register_channel_types(register):
    register(ChannelType(name="echo", adapter=EchoAdapter, template_models=("echo-1",)))
"""

BROKEN_IMPORT = """
raise RuntimeError("this plugin cannot be imported")
"""

DUPLICATE_ECHO = """
from chatnio_host import ChannelType, ChannelAdapter, hookimpl

class OtherEcho(ChannelAdapter):
    async def chat(self, request, target):
        if False:
            yield None

@hookimpl
def register_channel_types(register):
    register(ChannelType(name="echo", adapter=OtherEcho))
"""

FAILING_REGISTER = """
from chatnio_host import hookimpl

@hookimpl
def register_search_providers(register):
    raise ValueError("provider table is corrupt")
"""

MISSPELLED_HOOK = """
from chatnio_host import hookimpl

@hookimpl
def regster_channel_types(register):
    pass
"""


def run_chatnio(tmp_path: Path, *args: str, load: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHATNIO_")}
    env["PYTHONPATH"] = str(tmp_path / "site")
    env["SECRET"] = "s" * 40
    if load is not None:
        env["CHATNIO_LOAD_PLUGINS"] = load
    return subprocess.run(
        [sys.executable, "-m", "chatnio_host", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def plugin_rows(result: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    return root


def test_import_failure_leaves_others_loaded(tmp_path: Path, site: Path) -> None:
    write_plugin_dist(site, dist_name="chatnio-test-good", module="cn_test_good", source=GOOD)
    write_plugin_dist(site, dist_name="chatnio-test-broken", module="cn_test_broken", source=BROKEN_IMPORT)
    only = "cn_test_good,cn_test_broken"

    rows = plugin_rows(run_chatnio(tmp_path, "plugins", "--json", load=only))

    assert rows["cn_test_broken"]["status"] == "failed"
    assert "this plugin cannot be imported" in rows["cn_test_broken"]["reason"]
    assert rows["cn_test_good"]["status"] == "loaded"
    assert rows["cn_test_good"]["registered"] == {"channel_types": ["echo"]}
    assert rows["cn_test_good"]["hooks"] == ["register_channel_types"]
    assert rows["cn_test_good"]["distribution"] == "chatnio-test-good"
    assert rows["cn_test_good"]["version"] == "1.0.0"


def test_failing_register_hook_skips_plugin(tmp_path: Path, site: Path) -> None:
    write_plugin_dist(site, dist_name="chatnio-test-good", module="cn_test_good", source=GOOD)
    write_plugin_dist(site, dist_name="chatnio-test-badreg", module="cn_test_badreg", source=FAILING_REGISTER)

    rows = plugin_rows(run_chatnio(tmp_path, "plugins", "--json", load="cn_test_good,cn_test_badreg"))

    assert rows["cn_test_badreg"]["status"] == "failed"
    assert "provider table is corrupt" in rows["cn_test_badreg"]["reason"]
    assert rows["cn_test_good"]["status"] == "loaded"


def test_duplicate_channel_type_stops_startup(tmp_path: Path, site: Path) -> None:
    write_plugin_dist(site, dist_name="chatnio-test-good", module="cn_test_good", source=GOOD)
    write_plugin_dist(site, dist_name="chatnio-test-dup", module="cn_test_dup", source=DUPLICATE_ECHO)

    result = run_chatnio(tmp_path, "plugins", "--json", load="cn_test_good,cn_test_dup")

    assert result.returncode != 0
    assert "cn_test_good" in result.stderr
    assert "cn_test_dup" in result.stderr
    assert "'echo'" in result.stderr


def test_host_version_mismatch_skipped(tmp_path: Path, site: Path) -> None:
    write_plugin_dist(
        site,
        dist_name="chatnio-test-old",
        module="cn_test_old",
        source=GOOD,
        requires=("chatnio-host<0.0.1",),
    )

    rows = plugin_rows(run_chatnio(tmp_path, "plugins", "--json", load="cn_test_old"))

    assert rows["cn_test_old"]["status"] == "skipped"
    assert "<0.0.1" in rows["cn_test_old"]["reason"]
    assert "0.1.0" in rows["cn_test_old"]["reason"]


def test_load_list_narrows_and_empty_loads_none(tmp_path: Path, site: Path) -> None:
    write_plugin_dist(site, dist_name="chatnio-test-good", module="cn_test_good", source=GOOD)
    write_plugin_dist(site, dist_name="chatnio-test-broken", module="cn_test_broken", source=BROKEN_IMPORT)

    narrowed = plugin_rows(run_chatnio(tmp_path, "plugins", "--json", load="cn_test_good"))
    none = plugin_rows(run_chatnio(tmp_path, "plugins", "--json", load=""))

    assert narrowed["cn_test_good"]["status"] == "loaded"
    assert narrowed["cn_test_broken"]["status"] == "skipped"
    assert all(row["status"] == "skipped" for row in none.values() if not row["default"])


def test_misspelled_hook_fails_loudly(tmp_path: Path, site: Path) -> None:
    write_plugin_dist(site, dist_name="chatnio-test-typo", module="cn_test_typo", source=MISSPELLED_HOOK)

    result = run_chatnio(tmp_path, "plugins", "--json", load="cn_test_typo")

    assert result.returncode != 0
    assert "regster_channel_types" in result.stderr


def test_plugins_text_listing(tmp_path: Path, site: Path) -> None:
    write_plugin_dist(site, dist_name="chatnio-test-good", module="cn_test_good", source=GOOD)

    result = run_chatnio(tmp_path, "plugins", load="cn_test_good")

    assert result.returncode == 0, result.stderr
    assert "cn_test_good (chatnio-test-good 1.0.0): loaded" in result.stdout
    assert "channel_types: echo" in result.stdout
