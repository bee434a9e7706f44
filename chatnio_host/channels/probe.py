"""Channel health checks and upstream model lists, through the channel type's adapter.

A test sends one small chat request with the first enabled key and with every disabled key;
a disabled key that passes is enabled again, so a channel whose keys were all disabled recovers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatnio_host.channels.base import ChannelAdapter, UpstreamFailure, UpstreamTarget
from chatnio_host.channels.crypto import mask_key
from chatnio_host.channels.mapping import hit_models, parse_mapping
from chatnio_host.channels.schemas import (
    ChannelTestOut,
    KeyTestOut,
    ModelsFetchOut,
    UpstreamModelsIn,
    UpstreamModelsOut,
)
from chatnio_host.channels.service import cooldown_key
from chatnio_host.channels.validation import (
    channel_type_for,
    check_settings,
    normalize_endpoint,
    normalize_proxy,
    split_keys,
)
from chatnio_host.db.models.channel import Channel, ChannelKey
from chatnio_host.errors import InvalidRequest, UpstreamError
from chatnio_host.relay.canonical import (
    CONTENT_EVENTS,
    ChatRequest,
    Finish,
    Message,
    StreamError,
    TextDelta,
    TextPart,
)

if TYPE_CHECKING:
    from chatnio_host.channels.manage import ChannelManager

__all__ = ["ChannelProbe"]

logger = logging.getLogger(__name__)

TEST_PROMPT = "Reply with the single word: ok"
TEST_MAX_TOKENS = 16
TEST_TIMEOUT = 30.0
"""Seconds one test request may take in total."""
MESSAGE_LIMIT = 1000


@dataclass
class _KeyResult:
    key: ChannelKey
    value: str
    ok: bool
    latency_ms: int
    message: str


class ChannelProbe:
    """Run channel tests and fetch upstream model lists."""

    def __init__(self, manager: ChannelManager) -> None:
        self.manager = manager
        self.ctx = manager.ctx

    def adapter_for(self, type_name: str) -> ChannelAdapter:
        """Return the adapter instance of a channel type, or raise 400 when none is loaded."""
        adapters: dict[str, Any] = self.ctx.services.get("adapters") or {}
        adapter = adapters.get(type_name)
        if adapter is None:
            raise InvalidRequest(
                f"No adapter is loaded for channel type {type_name!r}; install and enable the plugin "
                "that registers it, then restart.",
                param="type",
            )
        return adapter

    @staticmethod
    def target(row: Channel, key: str, model: str) -> UpstreamTarget:
        """Return the destination of a request for ``model`` on ``row`` with ``key``."""
        return UpstreamTarget(
            channel_id=row.id,
            channel_type=row.type,
            endpoint=row.endpoint,
            key=key,
            model=parse_mapping(row.mapping).upstream_model(model),
            settings=dict(row.settings or {}),
            proxy=row.proxy,
            channel_name=row.name,
        )

    def _test_model(self, row: Channel, model: str | None) -> str:
        if model:
            return model.strip()
        served = hit_models(row.models or [], parse_mapping(row.mapping))
        if served:
            return served[0]
        template = channel_type_for(self.manager.types, row.type).template_models
        if template:
            return template[0]
        raise InvalidRequest(
            f"Channel {row.id} has no models; add one or name the model to test.", param="model"
        )

    async def _chat_once(self, adapter: ChannelAdapter, model: str, target: UpstreamTarget) -> tuple[bool, str]:
        request = ChatRequest(
            model=model,
            messages=[Message(role="user", content=[TextPart(TEST_PROMPT)])],
            stream=False,
            max_tokens=TEST_MAX_TOKENS,
            upstream_model=target.model,
        )
        text: list[str] = []
        content = False
        async with aclosing(adapter.chat(request, target)) as events:
            async for event in events:
                if isinstance(event, StreamError):
                    return False, event.message
                if isinstance(event, TextDelta):
                    text.append(event.text)
                if isinstance(event, CONTENT_EVENTS):
                    content = True
                if isinstance(event, Finish):
                    break
        if not content:
            return False, "The upstream answered without any content."
        return True, "".join(text).strip()[:200] or "ok"

    async def _try_key(self, adapter: ChannelAdapter, row: Channel, key: ChannelKey, model: str) -> _KeyResult:
        value = self.manager.key_value(key)
        target = self.target(row, value, model)
        started = time.perf_counter()
        try:
            ok, message = await asyncio.wait_for(self._chat_once(adapter, model, target), TEST_TIMEOUT)
        except UpstreamFailure as failure:
            ok, message = False, failure.message
        except TimeoutError:
            ok, message = False, f"The upstream timed out after {TEST_TIMEOUT:.0f} seconds without a complete response."
        except Exception as exc:  # noqa: BLE001 - a plugin's adapter may raise anything; report it
            logger.exception("channel %s key #%s test raised", row.id, key.position)
            ok, message = False, self._sanitize(adapter, f"{type(exc).__name__}: {exc}", target)
        latency = int((time.perf_counter() - started) * 1000)
        return _KeyResult(key=key, value=value, ok=ok, latency_ms=latency, message=message[:MESSAGE_LIMIT])

    @staticmethod
    def _sanitize(adapter: ChannelAdapter, text: str, target: UpstreamTarget) -> str:
        http = getattr(adapter, "http", None)
        if http is not None and hasattr(http, "sanitize"):
            return http.sanitize(text, target)
        if target.key:
            text = text.replace(target.key, mask_key(target.key))
        return text.replace(target.endpoint, f"channel://{target.channel_id}") if target.endpoint else text

    async def test(self, channel_id: int, model: str | None = None, *, actor_id: int | None = None) -> ChannelTestOut:
        """Send one small request per key tried; store the result; enable disabled keys that work."""
        async with self.ctx.db.session() as session:
            row = await self.manager.load(session, channel_id)
        adapter = self.adapter_for(row.type)
        test_model = self._test_model(row, model)

        enabled = [key for key in row.keys if key.enabled]
        disabled = [key for key in row.keys if not key.enabled]
        chosen = enabled[:1] + disabled
        logger.info(
            "testing channel %s with model %s on %d keys (user %s)", row.id, test_model, len(chosen), actor_id
        )
        results = [await self._try_key(adapter, row, key, test_model) for key in chosen]
        now = self.ctx.clock.now()

        async with self.ctx.db.transaction() as session:
            stored = await self.manager.load(session, channel_id)
            by_id = {key.id: key for key in stored.keys}
            for result in results:
                key = by_id.get(result.key.id)
                if key is None:
                    continue
                if result.ok:
                    if not key.enabled:
                        logger.info("channel %s key #%s enabled again after a passing test", row.id, key.position)
                    key.enabled = True
                    key.last_error = None
                    key.last_error_at = None
                else:
                    key.last_error = result.message
                    key.last_error_at = now
            verdict = results[0] if results else None
            passing = next((result for result in results if result.ok), None)
            shown = passing or verdict
            stored.last_test_at = now
            stored.last_test_ok = passing is not None
            stored.last_test_latency_ms = shown.latency_ms if shown else None
            stored.last_test_message = shown.message if shown else "The channel has no keys."
        for result in results:
            if result.ok:
                await self.ctx.state.delete(cooldown_key(result.key.id))
        await self.manager.service.invalidate()

        return ChannelTestOut(
            ok=passing is not None,
            model=test_model,
            latency_ms=shown.latency_ms if shown else None,
            message=shown.message if shown else "The channel has no keys.",
            keys=[
                KeyTestOut(
                    index=result.key.position,
                    masked=mask_key(result.value),
                    ok=result.ok,
                    latency_ms=result.latency_ms,
                    message=result.message,
                    was_enabled=result.key.enabled,
                    enabled=result.ok or result.key.enabled,
                )
                for result in results
            ],
        )

    async def _list_models(self, adapter: ChannelAdapter, target: UpstreamTarget) -> list[str]:
        if not getattr(adapter, "supports_model_list", False):
            raise InvalidRequest(
                f"Channel type {target.channel_type!r} cannot list upstream models; use its template models or "
                "enter the models by hand.",
                param="type",
            )
        try:
            return list(await asyncio.wait_for(adapter.list_models(target), TEST_TIMEOUT))
        except UpstreamFailure as failure:
            logger.warning(
                "channel %s model list failed (%s): %s", target.channel_id or "(unsaved)", failure.kind, failure.message
            )
            raise UpstreamError(f"The upstream model list failed: {failure.message}") from failure
        except TimeoutError as exc:
            logger.warning("channel %s model list timed out", target.channel_id or "(unsaved)")
            raise UpstreamError(
                f"The upstream model list timed out after {TEST_TIMEOUT:.0f} seconds."
            ) from exc

    async def preview_models(self, body: UpstreamModelsIn, *, actor_id: int | None = None) -> UpstreamModelsOut:
        """List an upstream's models for a channel that is not saved yet."""
        channel_type = channel_type_for(self.manager.types, body.type.strip())
        keys = split_keys(body.keys)
        if not keys:
            raise InvalidRequest("keys is empty: enter the vendor key to list the upstream's models.", param="keys")
        target = UpstreamTarget(
            channel_id=0,
            channel_type=channel_type.name,
            endpoint=normalize_endpoint(body.endpoint, channel_type),
            key=keys[0],
            model="",
            settings=check_settings(body.settings or {}, channel_type),
            proxy=normalize_proxy(body.proxy),
        )
        models = await self._list_models(self.adapter_for(channel_type.name), target)
        logger.info("unsaved %s channel lists %d upstream models (user %s)", channel_type.name, len(models), actor_id)
        return UpstreamModelsOut(models=models)

    async def fetch_models(self, channel_id: int, *, mode: str = "replace", actor_id: int | None = None) -> ModelsFetchOut:
        """Ask the upstream for its model list with the first enabled key; apply it per ``mode``."""
        async with self.ctx.db.session() as session:
            row = await self.manager.load(session, channel_id)
        adapter = self.adapter_for(row.type)
        key = next((key for key in row.keys if key.enabled), None) or (row.keys[0] if row.keys else None)
        if key is None:
            raise InvalidRequest(f"Channel {row.id} has no keys; add a key first.", param="keys")

        target = self.target(row, self.manager.key_value(key), "")
        models = await self._list_models(adapter, target)
        logger.info("channel %s upstream lists %d models (user %s, %s)", row.id, len(models), actor_id, mode)

        if mode == "preview":
            return ModelsFetchOut(upstream_models=models, channel=await self.manager.get(channel_id))
        channel = await self.manager.set_models(channel_id, models, mode=mode)
        return ModelsFetchOut(upstream_models=models, channel=channel)
