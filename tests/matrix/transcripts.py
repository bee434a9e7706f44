"""Read a client's stream bytes back, check the framing of its format, and normalise for golden files.

``read_transcript`` parses the bytes the way each format's SDK would (OpenAI ``data:`` chunks and
``[DONE]``, Anthropic named events, Gemini ``data: ...\\r\\n\\r\\n`` chunks), asserts the framing
rules of that format, and returns a ``Transcript`` comparable across formats.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Transcript:
    text: str = ""
    reasoning: str = ""
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish: str | None = None
    error: bool = False
    usage: tuple[int, int, int] | None = None


def _events(raw: bytes, separator: bytes) -> list[tuple[str | None, str]]:
    events = []
    for block in raw.split(separator):
        if not block.strip():
            continue
        name = None
        data = []
        for line in block.decode().splitlines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
            else:
                raise AssertionError(f"unexpected line in the stream: {line!r}")
        events.append((name, "\n".join(data)))
    return events


def read_openai(raw: bytes) -> Transcript:
    transcript = Transcript()
    events = _events(raw, b"\n\n")
    calls: dict[int, dict[str, Any]] = {}
    done = False
    for _name, data in events:
        assert not done, "an event followed data: [DONE]"
        if data == "[DONE]":
            done = True
            continue
        chunk = json.loads(data)
        if "error" in chunk:
            transcript.error = True
            assert chunk["error"]["message"], chunk
            continue
        assert chunk["object"] == "chat.completion.chunk", chunk
        if chunk.get("usage"):
            usage = chunk["usage"]
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            transcript.usage = (usage["prompt_tokens"], cached, usage["completion_tokens"])
        for choice in chunk["choices"]:
            assert choice["index"] == 0, choice
            delta = choice.get("delta") or {}
            transcript.text += delta.get("content") or ""
            transcript.reasoning += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(call["index"], {"name": None, "arguments": ""})
                if call.get("id"):
                    assert call.get("type") == "function", call
                    assert entry["name"] is None, f"tool call {call['index']} started twice"
                    entry["name"] = call["function"]["name"]
                entry["arguments"] += (call.get("function") or {}).get("arguments") or ""
            if choice.get("finish_reason"):
                transcript.finish = choice["finish_reason"]
    if transcript.error:
        assert not done, "a failed stream ended with [DONE]"
        assert transcript.finish in (None, "error"), "a failed stream carried a normal finish_reason"
    else:
        assert done, "the stream did not end with data: [DONE]"
    transcript.tools = [(call["name"], json.loads(call["arguments"] or "{}")) for _, call in sorted(calls.items())]
    return transcript


_ANTHROPIC_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length", "refusal": "content_filter",
                     "stop_sequence": "stop"}


def read_anthropic(raw: bytes) -> Transcript:
    transcript = Transcript()
    events = _events(raw, b"\n\n")
    assert events, "the stream is empty"
    assert events[0][0] == "message_start", events[0]
    blocks: dict[int, dict[str, Any]] = {}
    open_blocks: set[int] = set()
    stopped = False
    usage: dict[str, Any] = {}
    for name, data in events:
        assert name is not None, "an Anthropic event without an event: line"
        payload = json.loads(data)
        assert payload["type"] == name, (name, payload)
        assert not stopped, "an event followed message_stop"
        if name == "message_start":
            usage.update(payload["message"]["usage"])
        elif name == "content_block_start":
            index = payload["index"]
            assert index not in blocks, f"block {index} started twice"
            blocks[index] = {"block": payload["content_block"], "json": ""}
            open_blocks.add(index)
            if payload["content_block"]["type"] == "tool_use":
                assert payload["content_block"]["input"] == {}, payload
        elif name == "content_block_delta":
            index = payload["index"]
            assert index in open_blocks, f"delta for block {index} that is not open"
            delta = payload["delta"]
            if delta["type"] == "text_delta":
                transcript.text += delta["text"]
            elif delta["type"] == "thinking_delta":
                transcript.reasoning += delta["thinking"]
            elif delta["type"] == "input_json_delta":
                blocks[index]["json"] += delta["partial_json"]
        elif name == "content_block_stop":
            assert payload["index"] in open_blocks, payload
            open_blocks.discard(payload["index"])
        elif name == "message_delta":
            assert not open_blocks, f"message_delta with open blocks {open_blocks}"
            transcript.finish = _ANTHROPIC_FINISH[payload["delta"]["stop_reason"]]
            usage.update(payload.get("usage") or {})
        elif name == "message_stop":
            stopped = True
        elif name == "error":
            transcript.error = True
            assert payload["error"]["type"] and payload["error"]["message"], payload
        else:
            assert name == "ping", name
    if transcript.error:
        assert not stopped, "a failed stream ended with message_stop"
        assert transcript.finish is None, "a failed stream carried a stop_reason"
    else:
        assert stopped, "the stream did not end with message_stop"
        cached = usage.get("cache_read_input_tokens") or 0
        written = usage.get("cache_creation_input_tokens") or 0
        transcript.usage = (usage["input_tokens"] + cached + written, cached, usage["output_tokens"])
    for index in sorted(blocks):
        block = blocks[index]["block"]
        if block["type"] == "tool_use":
            transcript.tools.append((block["name"], json.loads(blocks[index]["json"] or "{}")))
    return transcript


_GEMINI_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter"}


def read_gemini(raw: bytes) -> Transcript:
    transcript = Transcript()
    assert raw.endswith(b"\r\n\r\n"), "Gemini events end with CRLF CRLF"
    for _name, data in _events(raw, b"\r\n\r\n"):
        chunk = json.loads(data)
        assert transcript.finish is None, "a chunk followed the final chunk"
        assert not transcript.error, "a chunk followed the error chunk"
        if "error" in chunk:
            transcript.error = True
            assert chunk["error"]["code"] and chunk["error"]["status"], chunk
            continue
        for candidate in chunk.get("candidates") or []:
            for part in (candidate.get("content") or {}).get("parts") or []:
                if part.get("thought"):
                    transcript.reasoning += part.get("text") or ""
                elif "functionCall" in part:
                    transcript.tools.append((part["functionCall"]["name"], part["functionCall"].get("args") or {}))
                else:
                    transcript.text += part.get("text") or ""
            if candidate.get("finishReason"):
                finish = _GEMINI_FINISH.get(candidate["finishReason"], "content_filter")
                transcript.finish = "tool_calls" if finish == "stop" and transcript.tools else finish
        if chunk.get("usageMetadata"):
            usage = chunk["usageMetadata"]
            output = (usage.get("candidatesTokenCount") or 0) + (usage.get("thoughtsTokenCount") or 0)
            transcript.usage = (usage["promptTokenCount"], usage.get("cachedContentTokenCount") or 0, output)
    return transcript


READERS = {"openai": read_openai, "anthropic": read_anthropic, "gemini": read_gemini}


def read_transcript(inbound: str, raw: bytes) -> Transcript:
    """Parse and check ``raw`` client bytes of format ``inbound``."""
    return READERS[inbound](raw)


_VOLATILE = [
    (re.compile(rb'"id":"chatcmpl-[^"]*"'), b'"id":"chatcmpl-X"'),
    (re.compile(rb'"created":\d+'), b'"created":0'),
    (re.compile(rb'msg_[0-9a-f]{24}'), b"msg_X"),
    (re.compile(rb'call_[0-9a-f]{16,24}'), b"call_X"),
    (re.compile(rb'toolu_[0-9a-f]{24}'), b"toolu_X"),
    (re.compile(rb'"responseId":"[^"]*"'), b'"responseId":"X"'),
    (re.compile(rb'"system_fingerprint":"[^"]*"'), b'"system_fingerprint":"X"'),
    (re.compile(rb'channel://\d+'), b"channel://N"),
]


def normalise(raw: bytes) -> bytes:
    """Return ``raw`` with generated ids and timestamps replaced by fixed values."""
    for pattern, replacement in _VOLATILE:
        raw = pattern.sub(replacement, raw)
    return raw
