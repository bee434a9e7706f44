"""``RelayService``: run one canonical request end to end.

The steps run in this order: the ``before_relay`` hook, model resolution (the ``web-`` prefix
runs the search service), the key's model allow-list, the candidate channels, and admission
through billing, which takes a hold before any upstream call. Then come the response cache and
the attempts in the scheduler's order until one reaches the commit point, the first content
event. Nothing reaches the client before it, so every failure before it falls through to the
next attempt or becomes one error with the most telling status. After it, a failure ends the
stream with a ``StreamError``. Settlement runs exactly once when the events end, fail or are
closed by a client that left.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from chatnio_host.channels.base import UpstreamFailure, UpstreamTarget
from chatnio_host.errors import (
    APIError,
    InvalidRequest,
    NoChannel,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from chatnio_host.plugins import call_async_hook
from chatnio_host.relay.canonical import (
    CONTENT_EVENTS,
    ChatRequest,
    Event,
    Finish,
    ReasoningDelta,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from chatnio_host.relay.estimate import OutputCounter, count_tokens, estimate_prompt_tokens

if TYPE_CHECKING:
    from chatnio_host.auth.caller import Caller
    from chatnio_host.context import AppContext

__all__ = ["RelayOutcome", "RelayResult", "RelayService", "SEARCH_PREFIX"]

logger = logging.getLogger(__name__)

SEARCH_PREFIX = "web-"

# Statuses of a usage record written by the relay.
STATUS_OK = "success"
STATUS_STREAM_ERROR = "stream_error"
STATUS_TIMEOUT = "timeout"
STATUS_CLIENT_CLOSED = "client_closed"


@dataclass
class RelayOutcome:
    """The end state of one relayed request, passed to the ``after_relay`` hook."""

    request_id: str
    model: str
    status: str
    usage: Usage
    channel_id: int | None = None
    model_sent: str | None = None
    latency_ms: int = 0
    cached: bool = False
    error: str | None = None


@dataclass
class RelayResult:
    """A request past its commit point.

    ``events`` yields canonical events, ending with one ``UsageEvent`` of the settled usage after
    a normal end or with one ``StreamError`` after a failure. Call ``aclose`` when you stop
    reading early (a client that left); it cancels the upstream call and settles.
    """

    model: str
    request_id: str
    events: AsyncIterator[Event]
    channel_id: int | None = None
    cached: bool = False
    search: Any = None
    outcome: RelayOutcome | None = None

    async def aclose(self) -> None:
        """Stop the upstream call and settle what was delivered."""
        closer = getattr(self.events, "aclose", None)
        if closer is not None:
            await closer()


@dataclass
class _Failures:
    """The failures of one request's attempts, to pick the status the client gets."""

    items: list[UpstreamFailure] = field(default_factory=list)

    def add(self, failure: UpstreamFailure) -> None:
        self.items.append(failure)

    def final_error(self, model: str) -> APIError:
        """Return the most telling error once every attempt failed."""
        if not self.items:
            return NoChannel(
                f"No usable channel serves the model {model!r} right now: every key is disabled or "
                "cooling down. Ask an admin to check the channels.",
                param="model",
            )
        last = self.items[-1]
        if all(item.kind == "rate_limit" for item in self.items):
            waits = [item.retry_after for item in self.items if item.retry_after]
            retry_after = int(min(waits)) + 1 if waits else None
            return RateLimited(
                f"Every channel for {model!r} is rate-limited upstream; retry later. Last error: {last.message}",
                retry_after=retry_after,
            )
        if all(item.kind == "timeout" for item in self.items):
            return UpstreamTimeout(
                f"No channel for {model!r} answered within the first-byte timeout "
                f"({len(self.items)} attempts). Last error: {last.message}"
            )
        return UpstreamError(
            f"Every upstream attempt for {model!r} failed ({len(self.items)} attempts). Last error: {last.message}"
        )


def _pass_through(failure: UpstreamFailure) -> APIError:
    """Return the client error for a failure caused by the request itself."""
    status = failure.status if failure.status in (400, 413, 422) else 400
    message = f"The upstream rejected the request: {failure.message}"
    if status == 413:
        return PayloadTooLarge(message, param=failure.param, code=failure.code)
    return InvalidRequest(message, param=failure.param, code=failure.code or None, status=status)


def _failure_from_stream_error(error: StreamError) -> UpstreamFailure:
    """Classify an in-stream error that arrived before any content."""
    status = error.status
    if status is None and error.code is not None and str(error.code).isdigit():
        status = int(str(error.code))
    kind = "server"
    if status in (400, 413, 422) or error.type in ("invalid_request_error", "BadRequestError"):
        kind = "request"
    elif status == 429 or error.type == "rate_limit_error":
        kind = "rate_limit"
    elif status in (401, 403):
        kind = "auth"
    return UpstreamFailure(kind, error.message, status=status, type=error.type, code=error.code)


@dataclass
class _Committed:
    """One attempt that reached its commit point."""

    attempt: Any
    target: UpstreamTarget
    adapter: Any
    generator: AsyncIterator[Event]
    buffered: list[Event]
    finished: bool


class _Accounting:
    """Token counters of what one request delivered, and the vendor's reported usage."""

    def __init__(self, prompt_estimate: int) -> None:
        self.prompt_estimate = prompt_estimate
        self.counter = OutputCounter()
        self.reported: Usage | None = None
        self.delivered_content = False
        self.started_choices: set[int] = set()
        self.finished_choices: set[int] = set()

    @property
    def all_finished(self) -> bool:
        """Whether every choice that produced output has received its finish reason."""
        return bool(self.finished_choices) and self.started_choices <= self.finished_choices

    def count(self, event: Event) -> None:
        if isinstance(event, CONTENT_EVENTS):
            self.started_choices.add(event.index)
        if isinstance(event, Finish):
            self.finished_choices.add(event.index)
        elif isinstance(event, TextDelta):
            self.counter.add(event.text, index=event.index)
            self.delivered_content = True
        elif isinstance(event, ReasoningDelta):
            self.counter.add(event.text, index=event.index, channel="reasoning")
            self.delivered_content = True
        elif isinstance(event, ToolCallDelta):
            text = (event.name or "") + event.arguments
            self.counter.add(text, index=event.index, channel=f"tool:{event.tool_index}")
            self.delivered_content = True
        elif isinstance(event, UsageEvent) and event.usage.reported:
            self.reported = event.usage

    def final_usage(self, *, complete: bool) -> Usage:
        """Return the usage to bill: the vendor's report after a complete answer, else an estimate.

        An answer cut short bills its prompt and the output the client received, counted offline.
        """
        reported = self.reported
        if complete and reported is not None and (reported.output_tokens > 0 or not self.delivered_content):
            return dataclasses.replace(reported)
        input_tokens = reported.input_tokens if reported is not None and reported.input_tokens > 0 else self.prompt_estimate
        cached = reported.cached_input_tokens if reported is not None else 0
        return Usage(
            input_tokens=input_tokens,
            output_tokens=self.counter.total(),
            cached_input_tokens=cached,
            reasoning_tokens=self.counter.channel_total("reasoning"),
            reported=False,
        )


class RelayService:
    """Admit, schedule, fall through, settle and record one relayed request."""

    def __init__(self, ctx: AppContext, *, rng_factory: Callable[[], random.Random] | None = None) -> None:
        self.ctx = ctx
        self.rng_factory = rng_factory or random.Random

    # --- helpers ---------------------------------------------------------------------------

    def _service(self, name: str) -> Any:
        return self.ctx.services.get(name)

    async def _hook(self, name: str, **kwargs: Any) -> None:
        hook = getattr(self.ctx.plugins.pm.hook, name)
        await call_async_hook(hook(**kwargs))

    def _sanitize(self, adapter: Any, text: str, target: UpstreamTarget) -> str:
        http = getattr(adapter, "http", None)
        if http is None:
            return text
        return http.sanitize(text, target)

    def _log_unexpected(self, adapter: Any, target: UpstreamTarget, request_id: str, exc: BaseException) -> str:
        """Log an adapter's unexpected exception with URLs and keys masked; return a safe message."""
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        logger.error(
            "request %s: channel %s raised %s:\n%s",
            request_id, target.channel_id, type(exc).__name__, self._sanitize(adapter, detail, target),
        )
        return self._sanitize(adapter, f"{type(exc).__name__}: {exc}", target)

    def resolve_model(self, requested: str) -> tuple[str, bool]:
        """Return the model to route and price, and whether the ``web-`` prefix asked for search."""
        if requested.startswith(SEARCH_PREFIX) and self._service("search") is not None:
            return requested[len(SEARCH_PREFIX):], True
        return requested, False

    def check_allowed(self, caller: Caller, requested: str, model: str) -> None:
        """Raise 403 when the key's allow-list admits neither the requested nor the routed name."""
        allowed = caller.allowed_models
        if allowed is None or requested in allowed or model in allowed:
            return
        raise PermissionDenied(
            f"This API key may not use the model {requested!r}; ask its owner to add it to the key's model list.",
            param="model",
            code="model_not_allowed",
        )

    async def visible_models(self, caller: Caller) -> list[str]:
        """Return the models this caller may use: served, priced (or admin), allow-listed."""
        channels = self._service("channels")
        billing = self._service("billing")
        if channels is None:
            return []
        models = await channels.models_for(caller.group)
        visible = []
        for model in models:
            if not caller.allows_model(model):
                continue
            if billing is not None and not caller.is_admin:
                price = await billing.price_for(model)
                if price is None:
                    continue
            visible.append(model)
        return sorted(set(visible))

    async def _candidates(self, caller: Caller, requested: str, model: str) -> list[Any]:
        channels = self._service("channels")
        if channels is None:
            raise NoChannel("No channel service is installed, so no channel serves any model.", param="model")
        candidates = await channels.candidates(model, caller.group)
        if candidates:
            return list(candidates)
        if await self._served_to_other_group(caller.group, model):
            raise PermissionDenied(
                f"The model {requested!r} is not available to the {caller.group!r} user group.",
                param="model",
                code="model_not_allowed",
            )
        raise NoChannel(
            f"No enabled channel serves the model {requested!r}; check the model name or ask an admin to add a channel.",
            param="model",
        )

    async def _served_to_other_group(self, group: str, model: str) -> bool:
        """Return whether a channel serves ``model`` to a group other than ``group`` (a 403, not a 503)."""
        from chatnio_host.auth.caller import GROUPS

        channels = self._service("channels")
        for other in GROUPS:
            if other != group and model in await channels.models_for(other):
                return True
        return False

    async def _admit(self, caller: Caller, model: str, request_id: str, *, input_tokens: int,
                     output_tokens: int | None, use_subscription: bool) -> Any:
        billing = self._service("billing")
        if billing is None:
            return None
        return await billing.admit(
            caller, model, estimated_input_tokens=input_tokens, max_output_tokens=output_tokens,
            request_id=request_id, use_subscription=use_subscription,
        )

    async def _release(self, hold: Any, *, status: str, error: str | None) -> None:
        billing = self._service("billing")
        if billing is None or hold is None:
            return
        try:
            with anyio.CancelScope(shield=True):
                await billing.release(hold, status=status, error=error)
        except Exception:  # noqa: BLE001 - a release failure must not hide the request's error
            logger.exception("releasing the hold of request %s failed", getattr(hold, "request_id", "?"))

    async def _settle(self, hold: Any, usage: Usage, *, target: UpstreamTarget | None, status: str,
                      latency_ms: int, cached: bool = False) -> None:
        billing = self._service("billing")
        if billing is None or hold is None:
            return
        await billing.settle(
            hold, usage,
            model_sent=target.model if target is not None else None,
            channel_id=target.channel_id if target is not None else None,
            status=status, latency_ms=latency_ms, cached=cached,
        )

    # --- the pipeline ----------------------------------------------------------------------

    async def run(
        self, caller: Caller, request: ChatRequest, *, request_id: str, use_subscription: bool = True,
    ) -> RelayResult:
        """Run ``request`` up to its commit point and return the events that follow.

        Raises an ``APIError`` when the request fails before its commit point; nothing is charged
        then. ``request.model`` may carry the ``web-`` prefix; the result echoes it unchanged.
        """
        started = time.monotonic()
        requested = request.model
        await self._hook("before_relay", request=request, caller=caller)

        model, wants_search = self.resolve_model(requested)
        self.check_allowed(caller, requested, model)
        candidates = await self._candidates(caller, requested, model)
        request = dataclasses.replace(request, model=model)

        prompt_estimate = estimate_prompt_tokens(request)
        hold = await self._admit(
            caller, model, request_id, input_tokens=prompt_estimate, output_tokens=request.output_limit,
            use_subscription=use_subscription,
        )
        logger.info("request %s: model %s admitted for user %s", request_id, model, caller.user_id)

        try:
            search = None
            if wants_search:
                search = await self._service("search").augment(request)
                prompt_estimate = estimate_prompt_tokens(request)

            cached_events = await self._cache_lookup(request)
            if cached_events is not None:
                logger.info("request %s: served from the response cache", request_id)
                events = self._replay(cached_events, hold, request, requested, request_id, started, prompt_estimate)
                return RelayResult(model=requested, request_id=request_id, events=events, cached=True, search=search)

            committed = await self._schedule(request, candidates, request_id)
        except APIError as exc:
            await self._release(hold, status=str(exc.status), error=exc.message)
            raise
        except asyncio.CancelledError:
            logger.info("request %s: cancelled before its commit point (the client left)", request_id)
            await self._release(hold, status=STATUS_CLIENT_CLOSED, error="The client closed the connection.")
            raise
        except BaseException as exc:
            await self._release(hold, status="error", error=type(exc).__name__)
            raise

        result = RelayResult(
            model=requested, request_id=request_id, events=iter_none(), channel_id=committed.target.channel_id,
            search=search,
        )
        result.events = self._deliver(committed, hold, request, requested, request_id, started, prompt_estimate, result)
        return result

    async def run_json(
        self, caller: Caller, operation: str, body: dict[str, Any], *, request_id: str,
    ) -> dict[str, Any]:
        """Relay an embeddings or image generation body (``operation`` names it) and settle it.

        The answer is OpenAI-shaped and shows the requested model name.
        """
        started = time.monotonic()
        requested = body["model"]
        model, _ = self.resolve_model(requested)
        self.check_allowed(caller, requested, model)
        candidates = await self._candidates(caller, requested, model)
        input_tokens = _input_tokens(body.get("input")) if operation == "embeddings" else count_tokens(
            str(body.get("prompt") or "")
        )
        hold = await self._admit(caller, model, request_id, input_tokens=input_tokens, output_tokens=0,
                                 use_subscription=False)
        logger.info("request %s: %s with model %s admitted for user %s", request_id, operation, model, caller.user_id)
        deadline = self.ctx.settings.max_stream_duration
        chosen: dict[str, UpstreamTarget] = {}

        async def call(adapter: Any, target: UpstreamTarget, _attempt: Any) -> dict[str, Any]:
            method = adapter.embeddings if operation == "embeddings" else adapter.images
            try:
                async with asyncio.timeout(deadline):
                    answer = await method({**body, "model": target.model}, target)
            except TimeoutError:
                raise UpstreamFailure("timeout", f"The upstream sent no response within {deadline:g} seconds.") from None
            except (UpstreamFailure, asyncio.CancelledError):
                raise
            except Exception as exc:  # noqa: BLE001 - an adapter bug or transport error counts as a failed attempt
                message = self._log_unexpected(adapter, target, request_id, exc)
                raise UpstreamFailure("invalid", f"The upstream response could not be read ({message}).") from None
            chosen["target"] = target
            return answer

        capability = "supports_embeddings" if operation == "embeddings" else "supports_images"
        try:
            answer = await self._attempts(
                model, candidates, request_id, call, capable=lambda adapter: bool(getattr(adapter, capability, False))
            )
        except APIError as exc:
            await self._release(hold, status=str(exc.status), error=exc.message)
            raise
        except BaseException as exc:
            await self._release(hold, status="error", error=type(exc).__name__)
            raise

        if isinstance(answer, dict) and "model" in answer:
            answer["model"] = requested
        usage = _json_usage(answer, input_tokens)
        outcome = RelayOutcome(
            request_id=request_id, model=requested, status=STATUS_OK, usage=usage,
            channel_id=chosen["target"].channel_id, model_sent=chosen["target"].model,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        with anyio.CancelScope(shield=True):
            await self._finish(hold, body, outcome, chosen["target"], None)
        return answer

    async def _cacheable(self, model: str) -> bool:
        cache = self._service("cache")
        if cache is None:
            return False
        checker = getattr(cache, "cacheable", None)
        return True if checker is None else bool(await checker(model))

    async def _cache_lookup(self, request: ChatRequest) -> list[Event] | None:
        cache = self._service("cache")
        if cache is None:
            return None
        return await cache.lookup(request)

    async def _schedule(self, request: ChatRequest, candidates: list[Any], request_id: str) -> _Committed:
        """Try attempts in order until one reaches its commit point."""

        async def attempt_chat(adapter: Any, target: UpstreamTarget, attempt: Any) -> _Committed:
            upstream_request = dataclasses.replace(request, upstream_model=target.model)
            return await self._until_commit(adapter, upstream_request, target, attempt, request_id)

        return await self._attempts(request.model, candidates, request_id, attempt_chat)

    async def _attempts(self, model: str, candidates: list[Any], request_id: str,
                        call: Callable[[Any, UpstreamTarget, Any], Awaitable[Any]],
                        capable: Callable[[Any], bool] | None = None) -> Any:
        """Run ``call`` on each attempt in the scheduler's order until one succeeds.

        Retryable failures fall through to the next attempt. A failure caused by the request is
        passed through at once. When every attempt failed, the most telling error is raised.
        """
        channels = self._service("channels")
        adapters = self._service("adapters") or {}
        failures = _Failures()
        attempts = channels.attempts(candidates, rng=self.rng_factory())

        for attempt in attempts:
            target = attempt.target(model)
            adapter = adapters.get(target.channel_type)
            if adapter is None:
                logger.error(
                    "request %s: channel %s has type %r, which no installed plugin registers; skipping it",
                    request_id, target.channel_id, target.channel_type,
                )
                continue
            if capable is not None and not capable(adapter):
                logger.info(
                    "request %s: channel %s of type %r cannot serve this operation; skipping it",
                    request_id, target.channel_id, target.channel_type,
                )
                continue
            logger.info(
                "request %s: attempt %s on channel %s key #%s as %s",
                request_id, getattr(attempt, "number", 1), target.channel_id, attempt.key_index, target.model,
            )
            try:
                value = await call(adapter, target, attempt)
            except UpstreamFailure as failure:
                await channels.record_failure(attempt, failure)
                logger.warning(
                    "request %s: channel %s key #%s failed (%s, status %s): %s",
                    request_id, target.channel_id, attempt.key_index, failure.kind, failure.status,
                    self._sanitize(adapter, failure.message, target),
                )
                if not failure.retryable:
                    raise _pass_through(failure) from None
                failures.add(failure)
                continue
            await channels.record_success(attempt)
            return value

        for candidate in candidates:
            if not getattr(candidate, "keys", True) and getattr(candidate, "retry_after", None) is not None:
                failures.add(UpstreamFailure(
                    "rate_limit", f"Every key of channel {candidate.id} is cooling down after a rate limit.",
                    status=429, retry_after=candidate.retry_after,
                ))
        error = failures.final_error(model)
        logger.warning("request %s: every attempt failed; responding with %s", request_id, error.status)
        raise error

    async def _until_commit(self, adapter: Any, request: ChatRequest, target: UpstreamTarget, attempt: Any,
                            request_id: str) -> _Committed:
        """Read events until the first content event (a stream) or the end (no stream)."""
        settings = self.ctx.settings
        generator = adapter.chat(request, target)
        buffered: list[Event] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.first_byte_timeout
        stream_deadline = loop.time() + settings.max_stream_duration
        has_content = False
        finished = False
        try:
            while True:
                try:
                    async with asyncio.timeout_at(min(deadline, stream_deadline)):
                        event = await anext(generator)
                except StopAsyncIteration:
                    finished = True
                    break
                if isinstance(event, StreamError):
                    raise _failure_from_stream_error(event)
                buffered.append(event)
                if isinstance(event, CONTENT_EVENTS):
                    has_content = True
                    if request.stream:
                        break
                # Any event proves the upstream is alive; from here the idle timeout applies.
                deadline = loop.time() + settings.idle_timeout
        except TimeoutError:
            await _close_quietly(generator)
            if has_content:
                raise UpstreamFailure("timeout", "The upstream stopped sending before the response was complete.") from None
            raise UpstreamFailure(
                "timeout", f"The upstream sent no response within {settings.first_byte_timeout:g} seconds."
            ) from None
        except UpstreamFailure:
            await _close_quietly(generator)
            raise
        except asyncio.CancelledError:
            await _close_quietly(generator)
            raise
        except Exception as exc:  # noqa: BLE001 - an adapter bug or transport error counts as a failed attempt
            await _close_quietly(generator)
            message = self._log_unexpected(adapter, target, request_id, exc)
            raise UpstreamFailure("invalid", f"The upstream response could not be read ({message}).") from None

        if not has_content and not finished:
            await _close_quietly(generator)
            raise UpstreamFailure("invalid", "The upstream stream ended before any content.")
        if not has_content and not any(isinstance(event, Finish) for event in buffered):
            await _close_quietly(generator)
            raise UpstreamFailure("invalid", "The upstream ended its response without any content or finish reason.")
        return _Committed(attempt, target, adapter, generator, buffered, finished)

    async def _deliver(self, committed: _Committed, hold: Any, request: ChatRequest, requested: str,
                       request_id: str, started: float, prompt_estimate: int,
                       result: RelayResult) -> AsyncIterator[Event]:
        """Yield the committed attempt's events; settle once however the stream ends."""
        settings = self.ctx.settings
        target = committed.target
        accounting = _Accounting(prompt_estimate)
        status = STATUS_CLIENT_CLOSED
        error_message: str | None = None
        # Events are kept only for the response cache, so other streams use constant memory.
        keep: list[Event] | None = [] if await self._cacheable(request.model) else None
        loop = asyncio.get_running_loop()
        stream_deadline = loop.time() + settings.max_stream_duration
        rest = self._read_rest(committed, request_id, stream_deadline)
        try:
            for event in committed.buffered:
                if keep is not None:
                    keep.append(event)
                if isinstance(event, UsageEvent):
                    accounting.count(event)
                    continue
                yield event
                accounting.count(event)

            if not committed.finished:
                async for event in rest:
                    if isinstance(event, StreamError) and accounting.all_finished:
                        # Every choice already has its finish reason, so only the terminator was
                        # lost (a vendor that closes without [DONE]); the answer is complete.
                        logger.info(
                            "request %s: stream ended after its finish reason without a terminator: %s",
                            request_id, event.message,
                        )
                        break
                    if isinstance(event, StreamError):
                        status = STATUS_TIMEOUT if event.type == "timeout_error" else STATUS_STREAM_ERROR
                        error_message = event.message
                        yield event
                        return
                    if keep is not None:
                        keep.append(event)
                    if isinstance(event, UsageEvent):
                        accounting.count(event)
                        continue
                    yield event
                    accounting.count(event)

            status = STATUS_OK
            usage = accounting.final_usage(complete=True)
            yield UsageEvent(usage)
        finally:
            with anyio.CancelScope(shield=True):
                await _close_quietly(rest)
                await _close_quietly(committed.generator)
                usage = accounting.final_usage(complete=status == STATUS_OK)
                latency_ms = int((time.monotonic() - started) * 1000)
                outcome = RelayOutcome(
                    request_id=request_id, model=requested, status=status, usage=usage,
                    channel_id=target.channel_id, model_sent=target.model, latency_ms=latency_ms,
                    error=error_message,
                )
                result.outcome = outcome
                await self._finish(hold, request, outcome, target, keep if status == STATUS_OK else None)

    async def _read_rest(self, committed: _Committed, request_id: str, stream_deadline: float) -> AsyncIterator[Event]:
        """Yield the events after the commit point; failures become one ``StreamError``."""
        settings = self.ctx.settings
        generator = committed.generator
        target = committed.target
        loop = asyncio.get_running_loop()
        while True:
            idle_deadline = loop.time() + settings.idle_timeout
            try:
                async with asyncio.timeout_at(min(idle_deadline, stream_deadline)):
                    event = await anext(generator)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if loop.time() >= stream_deadline:
                    message = f"The upstream stream ran past the limit of {settings.max_stream_duration:g} seconds."
                else:
                    message = f"The upstream sent nothing for {settings.idle_timeout:g} seconds."
                logger.warning("request %s: channel %s timed out mid-stream: %s", request_id, target.channel_id, message)
                yield StreamError(message, type="timeout_error", code="upstream_timeout")
                return
            except UpstreamFailure as failure:
                message = self._sanitize(committed.adapter, failure.message, target)
                logger.warning("request %s: channel %s failed mid-stream: %s", request_id, target.channel_id, message)
                yield StreamError(message, type=failure.type or "upstream_error", code=failure.code, status=failure.status)
                return
            except Exception as exc:  # noqa: BLE001 - after the commit point any failure ends the stream
                message = self._log_unexpected(committed.adapter, target, request_id, exc)
                yield StreamError(f"The upstream connection failed mid-stream ({message}).", type="upstream_error")
                return
            if isinstance(event, StreamError):
                event = dataclasses.replace(event, message=self._sanitize(committed.adapter, event.message, target))
                logger.warning(
                    "request %s: channel %s sent an error mid-stream: %s", request_id, target.channel_id, event.message
                )
            yield event
            if isinstance(event, StreamError):
                return

    async def _replay(self, events: list[Event], hold: Any, request: ChatRequest, requested: str,
                      request_id: str, started: float, prompt_estimate: int) -> AsyncIterator[Event]:
        """Yield a cached answer; a hit is settled at no cost."""
        accounting = _Accounting(prompt_estimate)
        status = STATUS_CLIENT_CLOSED
        try:
            for event in events:
                accounting.count(event)
                if isinstance(event, UsageEvent):
                    continue
                yield event
            status = STATUS_OK
            yield UsageEvent(accounting.final_usage(complete=True))
        finally:
            with anyio.CancelScope(shield=True):
                outcome = RelayOutcome(
                    request_id=request_id, model=requested, status=status,
                    usage=accounting.final_usage(complete=True),
                    latency_ms=int((time.monotonic() - started) * 1000), cached=True,
                )
                await self._finish(hold, request, outcome, None, None)

    async def _finish(self, hold: Any, request: Any, outcome: RelayOutcome,
                      target: UpstreamTarget | None, events: list[Event] | None) -> None:
        """Settle, store in the cache and run the ``after_relay`` hook; log instead of raising."""
        try:
            await self._settle(
                hold, outcome.usage, target=target, status=outcome.status, latency_ms=outcome.latency_ms,
                cached=outcome.cached,
            )
        except Exception:  # noqa: BLE001 - the client already has its answer; keep the error in the log
            logger.exception("request %s: settlement failed", outcome.request_id)
        logger.info(
            "request %s: %s on channel %s, %s input + %s output tokens (%s), %s ms",
            outcome.request_id, outcome.status, outcome.channel_id, outcome.usage.input_tokens,
            outcome.usage.output_tokens, "reported" if outcome.usage.reported else "estimated", outcome.latency_ms,
        )
        cache = self._service("cache")
        if cache is not None and events is not None and not outcome.cached:
            try:
                await cache.store(request, events)
            except Exception:  # noqa: BLE001 - a cache failure must not fail a delivered answer
                logger.exception("request %s: storing the response in the response cache failed", outcome.request_id)
        try:
            await self._hook("after_relay", request=request, result=outcome)
        except Exception:  # noqa: BLE001 - a plugin's observer must not fail a delivered answer
            logger.exception("request %s: an after_relay hook failed", outcome.request_id)


def _input_tokens(value: Any) -> int:
    """Estimate the tokens of an embeddings ``input``: text, a list of texts, or token ids."""
    if isinstance(value, str):
        return count_tokens(value)
    if isinstance(value, list):
        total = 0
        for item in value:
            if isinstance(item, str):
                total += count_tokens(item)
            elif isinstance(item, int):
                total += 1
            elif isinstance(item, list):
                total += len(item)
        return total
    return 0


def _json_usage(answer: Any, input_estimate: int) -> Usage:
    """Return the vendor's usage of a JSON answer, or the input estimate marked as estimated."""
    usage = answer.get("usage") if isinstance(answer, dict) else None
    if isinstance(usage, dict):
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        output = usage.get("completion_tokens", usage.get("output_tokens", 0))
        if isinstance(prompt, int):
            return Usage(input_tokens=prompt, output_tokens=output if isinstance(output, int) else 0)
    return Usage(input_tokens=input_estimate, reported=False)


async def iter_none() -> AsyncIterator[Event]:
    """An empty event iterator (placeholder until the real one is attached)."""
    return
    yield  # pragma: no cover


async def _close_quietly(generator: Any) -> None:
    closer = getattr(generator, "aclose", None)
    if closer is None:
        return
    try:
        await closer()
    except Exception:  # noqa: BLE001 - the attempt is over either way
        logger.debug("closing an upstream generator raised", exc_info=True)
