"""Hook specifications of the ``chatnio`` plugin host.

One line each; docs/plugins.md documents every argument with an example. Hooks grow only by
adding arguments, because an implementation may accept any subset of them.
"""

from __future__ import annotations

from typing import Any

import pluggy

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("chatnio")
hookimpl = pluggy.HookimplMarker("chatnio")


@hookspec
def register_channel_types(register: Any) -> None:
    """Register vendor adapters by calling ``register(ChannelType(...))`` for each."""


@hookspec
def register_inbound_formats(register: Any) -> None:
    """Register client-facing API formats by calling ``register(InboundFormat(...))``."""


@hookspec
def register_search_providers(register: Any) -> None:
    """Register web search backends by calling ``register(SearchProvider(...))``."""


@hookspec
def register_file_parsers(register: Any) -> None:
    """Register upload parsers by calling ``register(FileParser(...))``."""


@hookspec
def register_payment_providers(register: Any) -> None:
    """Register checkout providers by calling ``register(PaymentProvider(...))``."""


@hookspec
def register_routes(router: Any, app: Any) -> None:
    """Add HTTP routes (vendor callbacks, webhooks) to the FastAPI ``router``."""


@hookspec
def settings_schema() -> dict[str, Any] | None:
    """Return this plugin's own settings as a JSON Schema object, or None."""


@hookspec
def startup(app: Any) -> Any:
    """Run when the app starts; may return an awaitable."""


@hookspec
def shutdown(app: Any) -> Any:
    """Run when the app stops; may return an awaitable."""


@hookspec
def before_relay(request: Any, caller: Any) -> Any:
    """Inspect or reject a canonical relay request before it is admitted; may be async."""


@hookspec
def after_relay(request: Any, result: Any) -> Any:
    """Observe a finished relay request and its result; may be async."""


@hookspec
def usage_recorded(event: Any) -> Any:
    """Observe every usage record after it is written; may be async."""
