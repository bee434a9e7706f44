"""A fake OpenAI and Azure OpenAI vendor that responds in their wire formats byte for byte.

Unless a test scripts a reply, ``FakeOpenAI`` responds to:

* ``POST /v1/chat/completions`` (and ``/chat/completions`` under any prefix): the reply text is
  ``reply_text`` or, when that is None, the last user message's text. Streams send one chunk
  per word (a role chunk first, a finish chunk, then a usage chunk with empty ``choices`` when
  ``stream_options.include_usage`` is set and ``usage`` is on) and end with ``data: [DONE]``.
  With ``tools`` and a last message from the user, it calls the chosen (or first) tool with
  ``{"text": <last user text>}``; after a tool result it answers ``tool result: <content>``.
* ``POST /v1/embeddings``: deterministic 8-dimension vectors, float lists or base64 float32.
* ``POST /v1/images/generations``: URLs or ``b64_json`` (a 1x1 PNG).
* ``GET /v1/models``: ``models``.
* Azure: ``/openai/deployments/{deployment}/chat/completions`` (and ``/embeddings``,
  ``/images/generations``) with a required ``api-version`` query parameter and ``api-key``
  header; streams begin with the prompt-filter chunk with empty ``choices``.

Token counts are words plus a small per-message overhead, not a real tokenizer, so tests can
predict them: ``count_tokens``. When ``keys`` is set, other keys get OpenAI's 401 body.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import re
import struct
import time
from typing import Any

from chatnio_host.testing_vendors.server import FakeVendor, RecordedRequest, Reply, sse_data

__all__ = ["FakeOpenAI", "chat_chunk", "count_tokens", "done_event", "main"]

DONE = b"data: [DONE]\n\n"
ONE_PIXEL_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
_AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<operation>.+)$")
EMBEDDING_DIMENSIONS = 8


def done_event() -> bytes:
    """Return the stream terminator ``data: [DONE]\\n\\n``."""
    return DONE


def count_tokens(text: str) -> int:
    """Return the fake vendor's token count of ``text``: its whitespace-separated words."""
    return len(text.split())


def chat_chunk(
    delta: dict[str, Any] | None = None,
    *,
    index: int = 0,
    finish_reason: str | None = None,
    model: str = "gpt-4o-mini",
    id: str = "chatcmpl-fake",
    created: int = 1,
    usage: dict[str, Any] | None | bool = False,
    choices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build one ``chat.completion.chunk`` object; ``usage=False`` leaves the field out."""
    chunk: dict[str, Any] = {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": choices if choices is not None else [
            {"index": index, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}
        ],
    }
    if usage is not False:
        chunk["usage"] = usage
    return chunk


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")
    return ""


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class FakeOpenAI(FakeVendor):
    """A fake OpenAI-compatible vendor (and Azure OpenAI) with an echo default.

    ``reply_text`` fixes the answer text; ``usage`` False makes it ignore ``include_usage`` and
    leave usage out of non-stream answers; ``chunk_delay`` sleeps between stream chunks;
    ``keys`` restricts accepted keys; ``azure_prompt_filter`` sends Azure's empty-choices chunk.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        reply_text: str | None = None,
        usage: bool = True,
        chunk_delay: float = 0.0,
        models: list[str] | None = None,
        keys: set[str] | None = None,
        azure_prompt_filter: bool = True,
    ) -> None:
        super().__init__(host, port)
        self.reply_text = reply_text
        self.usage = usage
        self.chunk_delay = chunk_delay
        self.models = models if models is not None else ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "dall-e-3"]
        self.keys = keys
        self.azure_prompt_filter = azure_prompt_filter
        self._counter = 0

    # --- routing ---------------------------------------------------------------------------

    def default_reply(self, request: RecordedRequest) -> Reply | None:
        """Respond like OpenAI (or Azure, for ``/openai/deployments/...`` paths)."""
        azure = _AZURE_PATH.match(request.path)
        if azure is not None:
            return self._azure(request, azure.group("deployment"), azure.group("operation"))
        denied = self._check_key(request.headers.get("authorization", "").removeprefix("Bearer ").strip())
        if denied is not None:
            return denied
        path = request.path
        if request.method == "POST" and path.endswith("/chat/completions"):
            return self._chat(request, model_override=None)
        if request.method == "POST" and path.endswith("/embeddings"):
            return self._embeddings(request)
        if request.method == "POST" and path.endswith("/images/generations"):
            return self._images(request)
        if request.method == "GET" and path.endswith("/models"):
            data = [{"id": model, "object": "model", "created": 1700000000, "owned_by": "fake"} for model in self.models]
            return Reply.json({"object": "list", "data": data})
        return Reply.error(404, f"Invalid URL ({request.method} {path})", code=None)

    def _check_key(self, key: str) -> Reply | None:
        if self.keys is None or key in self.keys:
            return None
        masked = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 7 else key
        return Reply.error(401, f"Incorrect API key provided: {masked}. You can find your API key at "
                           "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    def _azure(self, request: RecordedRequest, deployment: str, operation: str) -> Reply:
        if not request.query_value("api-version"):
            return Reply.json({"error": {"code": "404", "message": "Resource not found"}}, status=404)
        key = request.headers.get("api-key", "")
        if self.keys is not None and key not in self.keys:
            message = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
                       "a valid key for an active subscription and use a correct regional API endpoint for your "
                       "resource.")
            return Reply.json({"error": {"code": "401", "message": message}}, status=401)
        if operation == "chat/completions":
            return self._chat(request, model_override=deployment, azure=True)
        if operation == "embeddings":
            return self._embeddings(request)
        if operation == "images/generations":
            return self._images(request)
        return Reply.json({"error": {"code": "404", "message": "Resource not found"}}, status=404)

    # --- chat ------------------------------------------------------------------------------

    def _chat(self, request: RecordedRequest, *, model_override: str | None, azure: bool = False) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return Reply.error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return Reply.error(400, "'messages' is a required property", param="messages")
        model = model_override or body.get("model")
        if not model:
            return Reply.error(400, "you must provide a model parameter", param="model")

        self._counter += 1
        completion_id = f"chatcmpl-fake{self._counter}"
        created = int(time.time())
        messages = body["messages"]
        prompt_tokens = sum(count_tokens(_message_text(m)) + 3 for m in messages if isinstance(m, dict))
        choices = max(1, int(body.get("n") or 1))
        tool_call = self._tool_call(body)
        text = self._answer_text(messages)

        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and self.usage
            return self._chat_stream(completion_id, created, model, text, tool_call, choices, prompt_tokens,
                                     include_usage, azure)
        return self._chat_json(completion_id, created, model, text, tool_call, choices, prompt_tokens)

    def _answer_text(self, messages: list[Any]) -> str:
        last = messages[-1] if isinstance(messages[-1], dict) else {}
        if last.get("role") == "tool":
            return f"tool result: {_message_text(last)}"
        if self.reply_text is not None:
            return self.reply_text
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _message_text(message) or "(empty)"
        return "(empty)"

    def _tool_call(self, body: dict[str, Any]) -> dict[str, Any] | None:
        tools = body.get("tools")
        last = body["messages"][-1]
        if not tools or body.get("tool_choice") == "none" or not isinstance(last, dict) or last.get("role") != "user":
            return None
        name = tools[0].get("function", {}).get("name", "tool")
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            name = choice.get("function", {}).get("name", name)
        arguments = json.dumps({"text": _message_text(last)}, ensure_ascii=False)
        digest = hashlib.sha256(arguments.encode()).hexdigest()[:24]
        return {"id": f"call_{digest}", "type": "function", "function": {"name": name, "arguments": arguments}}

    def _chat_json(self, completion_id: str, created: int, model: str, text: str, tool_call: dict[str, Any] | None,
                   choices: int, prompt_tokens: int) -> Reply:
        completion_tokens = 0
        items = []
        for index in range(choices):
            if tool_call is not None:
                message = {"role": "assistant", "content": None, "tool_calls": [tool_call], "refusal": None}
                finish = "tool_calls"
                completion_tokens += count_tokens(tool_call["function"]["arguments"])
            else:
                message = {"role": "assistant", "content": text, "refusal": None}
                finish = "stop"
                completion_tokens += count_tokens(text)
            items.append({"index": index, "message": message, "logprobs": None, "finish_reason": finish})
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": items,
        }
        if self.usage:
            payload["usage"] = _usage(prompt_tokens, completion_tokens)
        payload["system_fingerprint"] = "fp_fake"
        return Reply.json(payload, headers=[("x-request-id", f"req_{completion_id}")])

    def _chat_stream(self, completion_id: str, created: int, model: str, text: str, tool_call: dict[str, Any] | None,
                     choices: int, prompt_tokens: int, include_usage: bool, azure: bool) -> Reply:
        usage_field: Any = None if include_usage else False
        events: list[bytes | float] = []
        if azure and self.azure_prompt_filter:
            events.append(sse_data({
                "choices": [], "created": 0, "id": "", "model": "", "object": "",
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
                    "hate": {"filtered": False, "severity": "safe"}}}],
            }))

        def add(chunk: dict[str, Any]) -> None:
            if events and self.chunk_delay:
                events.append(self.chunk_delay)
            events.append(sse_data(chunk))

        common = {"model": model, "id": completion_id, "created": created, "usage": usage_field}
        completion_tokens = 0
        for index in range(choices):
            if tool_call is not None:
                arguments = tool_call["function"]["arguments"]
                first = {"index": 0, "id": tool_call["id"], "type": "function",
                         "function": {"name": tool_call["function"]["name"], "arguments": ""}}
                add(chat_chunk({"role": "assistant", "content": None, "tool_calls": [first]}, index=index, **common))
                half = len(arguments) // 2
                for piece in (arguments[:half], arguments[half:]):
                    add(chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}, index=index,
                                   **common))
                completion_tokens += count_tokens(arguments)
                continue
            add(chat_chunk({"role": "assistant", "content": "", "refusal": None}, index=index, **common))
            for word in re.findall(r"\s*\S+", text) or [text]:
                add(chat_chunk({"content": word}, index=index, **common))
            completion_tokens += count_tokens(text)
        finish = "tool_calls" if tool_call is not None else "stop"
        for index in range(choices):
            add(chat_chunk({}, index=index, finish_reason=finish, **common))
        if include_usage:
            add(chat_chunk(choices=[], model=model, id=completion_id, created=created,
                           usage=_usage(prompt_tokens, completion_tokens)))
        events.append(DONE)
        return Reply.sse(events, headers=[("x-request-id", f"req_{completion_id}")])

    # --- embeddings and images -------------------------------------------------------------

    def _embeddings(self, request: RecordedRequest) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return Reply.error(400, "We could not parse the JSON body of your request.")
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return Reply.error(400, "'input' is a required property", param="input")
        data = []
        tokens = 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else json.dumps(item)
            tokens += max(1, count_tokens(text))
            vector = _vector(text)
            embedding: Any = vector
            if body.get("encoding_format") == "base64":
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        payload = {"object": "list", "data": data, "model": body.get("model"),
                   "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return Reply.json(payload)

    def _images(self, request: RecordedRequest) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return Reply.error(400, "We could not parse the JSON body of your request.")
        if not body.get("prompt"):
            return Reply.error(400, "'prompt' is a required property", param="prompt")
        count = max(1, int(body.get("n") or 1))
        items = []
        for index in range(count):
            if body.get("response_format") == "b64_json":
                items.append({"b64_json": ONE_PIXEL_PNG, "revised_prompt": body["prompt"]})
            else:
                items.append({"url": f"{self.url}/files/image-{index}.png", "revised_prompt": body["prompt"]})
        return Reply.json({"created": int(time.time()), "data": items})


def _vector(text: str) -> list[float]:
    """Return a deterministic unit-range vector for ``text`` that survives a float32 round trip."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [(byte - 128) / 128 for byte in digest[:EMBEDDING_DIMENSIONS]]


def main(argv: list[str] | None = None) -> None:
    """Run a fake OpenAI vendor until interrupted (for benchmarks and manual trials)."""
    parser = argparse.ArgumentParser(description="Run a fake OpenAI-compatible vendor on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 picks a free one)")
    parser.add_argument("--reply-text", default=None, help="fixed reply text (default: echo the last user message)")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between stream chunks")
    parser.add_argument("--no-usage", action="store_true", help="never report usage")
    args = parser.parse_args(argv)

    async def serve() -> None:
        vendor = FakeOpenAI(port=args.port, reply_text=args.reply_text, chunk_delay=args.chunk_delay,
                            usage=not args.no_usage)
        vendor.record = False
        await vendor.start()
        print(f"fake OpenAI vendor listening on {vendor.url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await vendor.stop()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
