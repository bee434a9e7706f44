"""Offline token estimates for requests whose vendor reports no usage.

Counts use OpenAI's ``cl100k_base`` encoding from the ``bpe-openai`` package, which ships its
merge tables with the package, so an estimate never needs the network. For other vendors'
models the count is an estimate, and the usage record marks it as one (``Usage.reported`` is False).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from chatnio_host.relay.canonical import ChatRequest, ImagePart, TextPart, ThinkingPart

__all__ = ["OutputCounter", "count_tokens", "estimate_prompt_tokens"]

logger = logging.getLogger(__name__)

# OpenAI's published accounting for chat prompts: every message costs 3 tokens of framing
# around its role and content, a message name 1 more, and the reply is primed with 3 tokens.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3

# A low-detail image costs 85 tokens at OpenAI; the size of a remote image is unknown offline,
# so every image is estimated at that base cost.
TOKENS_PER_IMAGE = 85

# The streaming counter tokenizes pending text once it is longer than this many characters.
FLUSH_CHARACTERS = 2048


@functools.lru_cache(maxsize=1)
def _encoding() -> Any:
    import bpe_openai

    return bpe_openai.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Return the number of ``cl100k_base`` tokens in ``text`` (special tokens count as text)."""
    if not text:
        return 0
    return len(_encoding().encode_ordinary(text))


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """Estimate the input tokens of ``request``: messages, tool definitions and images."""
    import json

    total = REPLY_PRIMING_TOKENS
    for message in request.messages:
        total += TOKENS_PER_MESSAGE + count_tokens(message.role)
        if message.name:
            total += TOKENS_PER_NAME + count_tokens(message.name)
        for part in message.content:
            if isinstance(part, TextPart):
                total += count_tokens(part.text)
            elif isinstance(part, ThinkingPart):
                total += count_tokens(part.text)
            elif isinstance(part, ImagePart):
                total += TOKENS_PER_IMAGE
        for call in message.tool_calls:
            total += count_tokens(call.name) + count_tokens(call.arguments)
    for tool in request.tools or []:
        definition = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        total += count_tokens(json.dumps(definition, ensure_ascii=False))
    return total


# How far back from the end of the pending text to look for a safe cut, and how much text a
# forced cut keeps when the window has none (a long run of CJK text or of one character).
CUT_WINDOW = 512
FORCED_KEEP = 256


def _split_point(text: str) -> int:
    """Return an index where ``text`` may be cut for counting, looking only at its tail.

    ``cl100k_base`` never merges across the boundary in front of a space that follows a
    non-space character and precedes a letter, nor after a line break, so a cut there keeps the
    count exact. Without such a boundary in the last ``CUT_WINDOW`` characters the cut is forced,
    which may change the count by a token or two.
    """
    start = max(1, len(text) - CUT_WINDOW)
    for index in range(len(text) - 2, start - 1, -1):
        before, here, after = text[index - 1], text[index], text[index + 1]
        if here == " " and not before.isspace() and after.isalpha():
            return index
        if before == "\n" and not here.isspace():
            return index
    return max(0, len(text) - FORCED_KEEP)


class OutputCounter:
    """Count output tokens of a stream per choice while keeping only a short tail of text.

    Text arrives in pieces that do not line up with token boundaries, so each choice keeps its
    pending text and tokenizes the part before a safe cut once the pending text grows past
    ``FLUSH_CHARACTERS``. Memory stays constant in the stream's length.
    """

    def __init__(self) -> None:
        self._counted: dict[tuple[int, str], int] = {}
        self._pending: dict[tuple[int, str], str] = {}

    def add(self, text: str, *, index: int = 0, channel: str = "text") -> None:
        """Add a piece of output text of choice ``index`` (``channel`` keeps kinds apart)."""
        if not text:
            return
        key = (index, channel)
        pending = self._pending.get(key, "") + text
        if len(pending) > FLUSH_CHARACTERS:
            cut = _split_point(pending)
            if cut > 0:
                self._counted[key] = self._counted.get(key, 0) + count_tokens(pending[:cut])
                pending = pending[cut:]
        self._pending[key] = pending

    def total(self) -> int:
        """Return the tokens of everything added so far."""
        total = sum(self._counted.values())
        for text in self._pending.values():
            total += count_tokens(text)
        return total

    def channel_total(self, channel: str) -> int:
        """Return the tokens added under ``channel`` (``reasoning`` for reasoning text)."""
        total = sum(value for (_, kind), value in self._counted.items() if kind == channel)
        for (_, kind), text in self._pending.items():
            if kind == channel:
                total += count_tokens(text)
        return total
