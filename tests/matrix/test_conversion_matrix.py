"""Every scenario through all 9 pairs of inbound format and channel type, against golden transcripts.

A golden file per pair contains the client's request, the body the adapter sent upstream, the
vendor's bytes and the client's bytes (ids and timestamps normalised). Set
``CHATNIO_UPDATE_GOLDEN=1`` to rewrite them after an intended change, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from matrix_world import VENDOR_KEYS, MatrixSite
from scenarios import CHANNEL_TYPES, FORMATS, MODELS, SCENARIOS, Scenario, client_request
from transcripts import normalise, read_transcript

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CHATNIO_UPDATE_GOLDEN") == "1"


def _headers(inbound: str, key: str) -> dict[str, str]:
    if inbound == "anthropic":
        return {"x-api-key": key, "anthropic-version": "2023-06-01"}
    if inbound == "gemini":
        return {"x-goog-api-key": key}
    return {"Authorization": f"Bearer {key}"}


def _vendor_bytes(scenario: Scenario, channel_type: str) -> str:
    pieces = []
    for reply in scenario.vendor_replies[channel_type]:
        pieces.append(b"".join(chunk for chunk in reply.chunks or [] if isinstance(chunk, bytes)).decode())
    return "\n--- next attempt ---\n".join(pieces)


async def _run_pair(site: MatrixSite, scenario: Scenario, inbound: str, channel_type: str) -> list[str]:
    """Run one pair and return what went wrong (empty when it passed)."""
    problems: list[str] = []
    vendor = site.vendors[channel_type]
    vendor.reset()
    vendor.enqueue(*scenario.vendor_replies[channel_type])
    path, body = client_request(scenario, inbound, MODELS[channel_type])
    response = await site.host.client.post(path, json=body, headers=_headers(inbound, site.key))
    raw = response.content
    if response.status_code != 200:
        return [f"HTTP {response.status_code}: {response.text[:300]}"]

    try:
        transcript = read_transcript(inbound, raw)
    except (AssertionError, ValueError, KeyError) as exc:
        return [f"malformed {inbound} stream ({exc}): {raw[:600]!r}"]
    expected = scenario.expected
    if transcript.text != expected.text:
        problems.append(f"text {transcript.text!r} != {expected.text!r}")
    if transcript.tools != expected.tools:
        problems.append(f"tools {transcript.tools} != {expected.tools}")
    if transcript.error != expected.error:
        problems.append(f"error {transcript.error} != {expected.error}")
    if not expected.error and transcript.finish != expected.finish:
        problems.append(f"finish {transcript.finish!r} != {expected.finish!r}")
    if expected.reasoning and not transcript.reasoning:
        problems.append("no reasoning reached the client")
    if expected.usage is not None and transcript.usage != expected.usage:
        problems.append(f"usage {transcript.usage} != {expected.usage}")
    if len(vendor.requests) != scenario.upstream_requests:
        problems.append(f"vendor got {len(vendor.requests)} requests, expected {scenario.upstream_requests}")

    upstream = vendor.requests[0].json() if vendor.requests else {}
    if scenario.check_upstream is not None and vendor.requests:
        try:
            scenario.check_upstream(channel_type, upstream)
        except (AssertionError, KeyError, StopIteration) as exc:
            problems.append(f"upstream body check failed: {exc!r}: {json.dumps(upstream)[:400]}")
    for recorded in vendor.requests:
        if "key=" in recorded.target:
            problems.append(f"a vendor key travelled in the URL {recorded.target}")
    for secret in VENDOR_KEYS.values():
        if secret.encode() in raw:
            problems.append("a vendor key reached the client")

    golden_path = GOLDEN / scenario.name / f"{inbound}-to-{channel_type}.json"
    record = {"client_request": {"path": path, "body": body}, "upstream_request": upstream,
              "vendor_bytes": _vendor_bytes(scenario, channel_type), "client_bytes": normalise(raw).decode()}
    if UPDATE:
        golden_path.parent.mkdir(parents=True, exist_ok=True)
        golden_path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif not golden_path.exists():
        problems.append(f"missing golden file {golden_path.name}; run with CHATNIO_UPDATE_GOLDEN=1 and review it")
    else:
        golden = json.loads(golden_path.read_text(encoding="utf-8"))
        if golden["upstream_request"] != upstream:
            problems.append(f"upstream body differs from {golden_path.name}: {json.dumps(upstream)[:400]}")
        if golden["client_bytes"] != record["client_bytes"]:
            problems.append(f"client bytes differ from {golden_path.name}: {record['client_bytes'][:600]!r}")
    return problems


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_matrix_scenario(site: MatrixSite, name: str) -> None:
    failures: dict[str, list[str]] = {}
    for inbound in FORMATS:
        for channel_type in CHANNEL_TYPES:
            problems = await _run_pair(site, SCENARIOS[name](), inbound, channel_type)
            if problems:
                failures[f"{inbound} client -> {channel_type} channel"] = problems
    assert not failures, json.dumps(failures, indent=2)
