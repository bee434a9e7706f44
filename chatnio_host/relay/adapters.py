"""The upstream client and one adapter instance per registered channel type.

``install(ctx)`` stores ``ctx.services["upstream"]`` (an ``AiohttpUpstream``) and
``ctx.services["adapters"]`` (channel type name -> adapter instance), and adds the tasks that
open the client's session at startup and close it at shutdown. The relay concept's ``setup``
calls it before anything looks adapters up.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from chatnio_host.registry import ChannelType
from chatnio_host.relay.upstream import AiohttpUpstream

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = ["build_adapters", "install"]

logger = logging.getLogger(__name__)


def build_adapters(channel_types: dict[str, ChannelType], upstream: Any) -> dict[str, Any]:
    """Instantiate each channel type's adapter with the upstream client.

    An adapter class whose constructor takes a ``channel_type`` argument receives its
    ``ChannelType`` too, so one class can serve several data-only presets.
    """
    adapters: dict[str, Any] = {}
    for name, channel_type in channel_types.items():
        adapter_class = channel_type.adapter
        try:
            parameters = inspect.signature(adapter_class).parameters
        except (TypeError, ValueError):
            parameters = {}
        try:
            if "channel_type" in parameters:
                adapters[name] = adapter_class(upstream, channel_type=channel_type)
            else:
                adapters[name] = adapter_class(upstream)
        except Exception:  # noqa: BLE001 - one broken plugin class must not stop the others
            logger.exception("could not create the adapter of channel type %r (%s); channels of this type are "
                             "skipped", name, getattr(adapter_class, "__qualname__", adapter_class))
    logger.info("adapters ready for %d channel types: %s", len(adapters), ", ".join(sorted(adapters)) or "none")
    return adapters


def install(ctx: AppContext) -> AiohttpUpstream:
    """Create the upstream client and the adapters, and register their startup and shutdown."""
    existing = ctx.services.get("upstream")
    if isinstance(existing, AiohttpUpstream):
        return existing
    upstream = AiohttpUpstream(ctx.settings)
    ctx.services["upstream"] = upstream
    ctx.services["adapters"] = build_adapters(ctx.plugins.registry.channel_types, upstream)

    async def start_upstream(ctx: AppContext) -> None:
        await upstream.start()

    async def stop_upstream(ctx: AppContext) -> None:
        await upstream.close()

    ctx.startup_tasks.append(start_upstream)
    ctx.shutdown_tasks.append(stop_upstream)
    return upstream
