"""Answer generation as server-side tasks that outlive the HTTP connection.

Each generation runs the canonical request through the relay service and appends typed events
to the message's buffer (``chat.events``). The browser reads the buffer over SSE and may
reconnect at any time; the answer is saved when the task ends, whether or not anyone listens.
A stop request from any replica ends the task; the partial answer is saved and what was
delivered is charged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from chatnio_host.billing.money import points_json
from chatnio_host.chat.conversations import message_public, touch
from chatnio_host.chat.events import EventBuffer
from chatnio_host.db.models.billing import UsageRecord
from chatnio_host.db.models.chat import ChatMessage
from chatnio_host.errors import APIError
from chatnio_host.relay.canonical import (
    ChatRequest,
    Finish,
    ReasoningDelta,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

if TYPE_CHECKING:
    from chatnio_host.auth.caller import Caller
    from chatnio_host.context import AppContext

__all__ = ["GenerationJob", "GenerationManager"]

logger = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.2
STOP_FLAG_TTL = 3600.0


@dataclass
class GenerationJob:
    """One answer to generate.

    ``key`` names the event buffer and the usage record (``chat-<key>``). A stored answer has
    ``message_id`` and ``conversation_id``; an anonymous one has neither and is never saved.
    """

    key: str
    caller: Caller
    request: ChatRequest
    message_id: int | None = None
    conversation_id: int | None = None
    search: bool = False

    @property
    def request_id(self) -> str:
        """The relay request id, which is also the usage record's."""
        return f"chat-{self.key}"


@dataclass
class _Answer:
    """The text, reasoning, tool calls, usage and status a generation has produced so far."""

    text: str = ""
    reasoning: str = ""
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    sources: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    status: str = "complete"
    error: str | None = None
    error_code: str | None = None
    error_status: int | None = None


def _stop_key(key: str) -> str:
    return f"chat:stop:{key}"


class GenerationManager:
    """Starts, stops and tracks the generation tasks of this replica."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stops: dict[str, asyncio.Event] = {}

    def is_running(self, key: str | int) -> bool:
        """Return whether this replica runs the generation ``key``."""
        task = self._tasks.get(str(key))
        return task is not None and not task.done()

    def start(self, job: GenerationJob) -> None:
        """Start generating ``job`` in the background."""
        self._stops[job.key] = asyncio.Event()
        task = asyncio.create_task(self._run(job), name=f"chat-generation-{job.key}")
        self._tasks[job.key] = task
        task.add_done_callback(lambda _task, key=job.key: self._forget(key))
        logger.info("generation %s started (model %s)", job.key, job.request.model)

    def _forget(self, key: str) -> None:
        self._tasks.pop(key, None)
        self._stops.pop(key, None)

    async def stop(self, key: str | int) -> None:
        """Ask the generation ``key`` (a message id, or an anonymous key) to stop on any replica."""
        key = str(key)
        await self.ctx.state.set(_stop_key(key), "1", ttl=STOP_FLAG_TTL)
        local = self._stops.get(key)
        if local is not None:
            local.set()
        logger.info("stop requested for generation %s", key)

    async def wait(self, key: str | int) -> None:
        """Wait until this replica's generation ``key`` has ended (tests, shutdown)."""
        task = self._tasks.get(str(key))
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def shutdown(self) -> None:
        """Stop every running generation and wait for each to save its partial answer."""
        for key in list(self._tasks):
            local = self._stops.get(key)
            if local is not None:
                local.set()
        tasks = list(self._tasks.values())
        if tasks:
            logger.info("stopping %d running generations", len(tasks))
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch_stop(self, key: str, local: asyncio.Event) -> None:
        while not local.is_set():
            if await self.ctx.state.get(_stop_key(key)):
                local.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(local.wait(), timeout=STOP_POLL_SECONDS)

    async def _run(self, job: GenerationJob) -> None:
        buffer = EventBuffer(self.ctx.state, job.key)
        answer = _Answer()
        local_stop = self._stops.setdefault(job.key, asyncio.Event())
        watcher = asyncio.create_task(self._watch_stop(job.key, local_stop))
        started = time.monotonic()
        try:
            if job.search:
                await self._search(job, buffer, answer)
            await self._relay(job, buffer, answer, local_stop)
        except APIError as exc:
            answer.status = "error"
            answer.error = exc.message
            answer.error_code = exc.code
            answer.error_status = exc.status
            logger.info("generation %s refused: %s (%s)", job.key, exc.message, exc.status)
        except Exception:  # noqa: BLE001 - the task must save and report whatever failed
            logger.exception("generation %s failed unexpectedly", job.key)
            answer.status = "error"
            answer.error = "The answer failed because of a server error. Please try again."
            answer.error_code = "internal_error"
            answer.error_status = 500
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await self._finish(job, buffer, answer)
            logger.info(
                "generation %s ended: %s after %.1f s", job.key, answer.status, time.monotonic() - started,
            )

    async def _search(self, job: GenerationJob, buffer: EventBuffer, answer: _Answer) -> None:
        search = self.ctx.services.get("search")
        if search is None:
            await buffer.append("notice", {"code": "search_unavailable", "message": "Web search is not installed on this site."})
            return
        outcome = await search.augment(job.request)
        sources = [
            source if isinstance(source, dict) else _as_dict(source) for source in getattr(outcome, "sources", []) or []
        ]
        if sources:
            answer.sources = sources
            await buffer.append("search_results", {"sources": sources})
        notice = getattr(outcome, "notice", None)
        if notice:
            await buffer.append("notice", {"code": "search_failed", "message": notice})

    async def _relay(self, job: GenerationJob, buffer: EventBuffer, answer: _Answer, stop: asyncio.Event) -> None:
        relay = self.ctx.service("relay")
        result = await relay.run(
            job.caller, job.request, request_id=job.request_id, use_subscription=job.message_id is not None
        )
        consumer = asyncio.create_task(self._consume(result, buffer, answer))
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _pending = await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if consumer not in done:
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
                answer.status = "stopped"
                await result.aclose()
                usage = getattr(getattr(result, "outcome", None), "usage", None)
                if usage is not None:
                    answer.usage = usage
            else:
                consumer.result()
        finally:
            stopper.cancel()

    async def _consume(self, result: Any, buffer: EventBuffer, answer: _Answer) -> None:
        async for event in result.events:
            if isinstance(event, TextDelta):
                if event.index != 0:
                    continue
                answer.text += event.text
                await buffer.append("delta", {"text": event.text})
            elif isinstance(event, ReasoningDelta):
                answer.reasoning += event.text
                if event.text:
                    await buffer.append("reasoning", {"text": event.text})
            elif isinstance(event, ToolCallDelta):
                call = answer.tool_calls.setdefault(event.tool_index, {"id": None, "name": None, "arguments": ""})
                call["id"] = event.id or call["id"]
                call["name"] = event.name or call["name"]
                call["arguments"] += event.arguments
                await buffer.append("tool_call", {"index": event.tool_index, "id": event.id, "name": event.name,
                                                  "arguments": event.arguments})
            elif isinstance(event, UsageEvent):
                answer.usage = event.usage
            elif isinstance(event, Finish):
                if event.index == 0:
                    answer.finish_reason = event.reason
            elif isinstance(event, StreamError):
                answer.status = "error"
                answer.error = event.message
                answer.error_code = event.code or event.type

    async def _charge_of(self, request_id: str) -> tuple[int, bool]:
        async with self.ctx.db.session() as session:
            record = await session.scalar(select(UsageRecord).where(UsageRecord.request_id == request_id))
        if record is None:
            return 0, False
        return int(record.points or 0), bool(record.subscription)

    async def _finish(self, job: GenerationJob, buffer: EventBuffer, answer: _Answer) -> None:
        if answer.status == "complete" and not answer.text and not answer.tool_calls and answer.error is None:
            answer.status = "error"
            answer.error = "The model returned an empty answer."
            answer.error_code = "empty_response"
        points, subscription = await self._charge_of(job.request_id)
        usage = answer.usage or Usage(reported=False)
        public = await self._save(job, answer, usage, points, subscription) if job.message_id is not None else None
        await buffer.append(
            "usage",
            {
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "estimated": not usage.reported,
                "points": points_json(points),
                "subscription": subscription,
            },
        )
        if answer.status == "error":
            await buffer.append(
                "error", {"message": answer.error, "code": answer.error_code, "status": answer.error_status}
            )
        done: dict[str, Any] = {"status": answer.status, "message": public.model_dump(mode="json") if public else None}
        if job.message_id is None:
            done["text"] = answer.text
        await buffer.append("done", done)

    async def _save(self, job: GenerationJob, answer: _Answer, usage: Usage, points: int, subscription: bool) -> Any:
        async with self.ctx.db.transaction() as session:
            message = await session.get(ChatMessage, job.message_id)
            if message is None:
                logger.warning("message %s was deleted while it was generated", job.message_id)
                public = None
            else:
                message.content = [{"type": "text", "text": answer.text}] if answer.text else []
                message.reasoning = answer.reasoning or None
                message.tool_calls = [answer.tool_calls[index] for index in sorted(answer.tool_calls)] or None
                message.sources = answer.sources
                message.status = answer.status
                message.error = answer.error
                message.error_code = answer.error_code
                message.finish_reason = answer.finish_reason
                message.input_tokens = usage.input_tokens
                message.output_tokens = usage.output_tokens
                message.points_micro = points
                message.subscription = subscription
                await session.flush()
                await touch(session, job.conversation_id, model=job.request.model)
                public = message_public(message)
        return public


def _as_dict(source: Any) -> dict[str, Any]:
    for name in ("model_dump", "_asdict"):
        method = getattr(source, name, None)
        if method is not None:
            return dict(method())
    return {key: value for key, value in vars(source).items() if not key.startswith("_")}
