"""Fake vendor servers for tests and benchmarks of the host and of plugins.

Each fake listens on 127.0.0.1, speaks one vendor's wire format byte for byte, lets a test
script exact responses (status, headers, write boundaries, sleeps, stalls, resets) and records
every request. Plugin test suites subclass ``FakeVendor`` for vendors not covered here.
"""

from chatnio_host.testing_vendors.anthropic import FakeAnthropic, anthropic_error, anthropic_event, message_events
from chatnio_host.testing_vendors.gemini import FakeGemini, gemini_chunk, gemini_error, gemini_sse
from chatnio_host.testing_vendors.openai import FakeOpenAI, chat_chunk, count_tokens, done_event
from chatnio_host.testing_vendors.server import FakeVendor, RecordedRequest, Reply, ReplyHandler, sse_data

__all__ = [
    "FakeAnthropic",
    "FakeGemini",
    "FakeOpenAI",
    "FakeVendor",
    "RecordedRequest",
    "Reply",
    "ReplyHandler",
    "anthropic_error",
    "anthropic_event",
    "chat_chunk",
    "count_tokens",
    "done_event",
    "gemini_chunk",
    "gemini_error",
    "gemini_sse",
    "message_events",
    "sse_data",
]
