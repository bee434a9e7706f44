"""``SearchService``: run the configured search provider and put its results into a request."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema

from chatnio_host.errors import InvalidRequest
from chatnio_host.files.types import ATTACHMENT_PATTERN, AttachmentText
from chatnio_host.registry import SearchProvider
from chatnio_host.relay.canonical import ChatRequest, Message, TextPart
from chatnio_host.search.format import QUERY_MAX_CHARS, format_block, new_nonce
from chatnio_host.search.settings import SECTION, SearchSettings
from chatnio_host.search.types import SearchOutcome, SearchResult, Source

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = [
    "NOTICE_FAILED",
    "NOTICE_NO_RESULTS",
    "NOTICE_NOT_CONFIGURED",
    "SearchService",
    "build_query",
]

logger = logging.getLogger(__name__)

# Shown to end users; they never contain the provider's address or the error text.
NOTICE_FAILED = "Web search failed, so this answer was written without search results. 联网搜索失败，本次回答未使用搜索结果。"
NOTICE_NOT_CONFIGURED = (
    "Web search is not set up on this site, so this answer was written without search results. "
    "本站未配置联网搜索，本次回答未使用搜索结果。"
)
NOTICE_NO_RESULTS = "Web search found no results for this question. 联网搜索没有找到相关结果。"

DEFAULT_TIMEOUT = 10.0
# Extra seconds past the provider's own timeout before the host gives up on it.
TIMEOUT_GRACE = 2.0


def _is_attachment(part: TextPart) -> bool:
    return isinstance(part, AttachmentText) or bool(ATTACHMENT_PATTERN.match(part.text))


def build_query(request: ChatRequest) -> str:
    """Return the search query: the typed text of the last user message, at most 256 characters.

    Attached files are left out, so their content never reaches the search engine.
    """
    for message in reversed(request.messages):
        if message.role != "user":
            continue
        typed = [part.text for part in message.content if isinstance(part, TextPart) and not _is_attachment(part)]
        query = " ".join(" ".join(typed).split())
        return query[:QUERY_MAX_CHARS].strip()
    return ""


def _last_user_message(request: ChatRequest) -> Message | None:
    for message in reversed(request.messages):
        if message.role == "user":
            return message
    return None


def _with_defaults(schema: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    merged = {
        name: spec["default"]
        for name, spec in (schema.get("properties") or {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    merged.update(values)
    return merged


class SearchService:
    """Web search for ``web-`` models and the chat's search toggle."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The HTTP client that providers use; created on first use, closed at shutdown."""
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False, timeout=DEFAULT_TIMEOUT)
        return self._http

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def settings(self) -> SearchSettings:
        """Return the current ``search`` settings section."""
        return await self.ctx.site.get(SECTION, SearchSettings)

    def providers(self) -> dict[str, SearchProvider]:
        """Return the registered providers by name."""
        return dict(self.ctx.plugins.registry.search_providers)

    def provider_for(self, settings: SearchSettings) -> SearchProvider | None:
        """Return the configured provider, or the first registered one when none is named."""
        providers = self.providers()
        if settings.provider:
            return providers.get(settings.provider)
        return next(iter(providers.values()), None)

    def validate(self, settings: SearchSettings) -> None:
        """Raise 400 naming the field when ``settings`` names an unknown provider or breaks its schema."""
        providers = self.providers()
        if settings.provider and settings.provider not in providers:
            known = ", ".join(sorted(providers)) or "none (install chatnio-web-search)"
            raise InvalidRequest(
                f"Unknown search provider {settings.provider!r}; registered providers: {known}.", param="provider"
            )
        for name, values in settings.providers.items():
            provider = providers.get(name)
            if provider is None:
                raise InvalidRequest(f"Settings given for unknown search provider {name!r}.", param=f"providers.{name}")
            try:
                jsonschema.validate(values, provider.settings_schema or {"type": "object"})
            except jsonschema.ValidationError as exc:
                path = ".".join(str(part) for part in exc.absolute_path)
                field = f"providers.{name}" + (f".{path}" if path else "")
                raise InvalidRequest(f"Invalid search settings at {field}: {exc.message}.", param=field) from exc

    async def search(self, query: str, settings: SearchSettings | None = None) -> tuple[str, list[SearchResult]]:
        """Run the configured provider for ``query``; return its name and results. Raises on failure."""
        settings = settings or await self.settings()
        provider = self.provider_for(settings)
        if provider is None:
            raise LookupError("no search provider is registered or the configured one is not installed")
        values = _with_defaults(provider.settings_schema, settings.providers.get(provider.name, {}))
        timeout = float(values.get("timeout") or DEFAULT_TIMEOUT)
        results = await asyncio.wait_for(provider.search(query, values, self.http), timeout + TIMEOUT_GRACE)
        return provider.name, [result for result in results if result.title or result.url]

    async def augment(self, request: ChatRequest) -> SearchOutcome:
        """Search with the typed question and put the numbered results into the last user message.

        The results go into a user message inside a nonce-tagged block, never into a system
        message. A failing or slow provider adds nothing and returns a notice; this never raises.
        """
        query = build_query(request)
        target = _last_user_message(request)
        if not query or target is None:
            return SearchOutcome()

        try:
            settings = await self.settings()
            provider = self.provider_for(settings)
            if not settings.enabled or provider is None or provider.name not in settings.providers:
                logger.info("web search skipped for model %s: no provider configured", request.model)
                return SearchOutcome(notice=NOTICE_NOT_CONFIGURED, query=query)
            name, results = await self.search(query, settings)
        except Exception as exc:  # noqa: BLE001 - any search failure becomes a notice, never a failed chat
            logger.warning(
                "web search failed for model %s (query of %d characters): %s: %s",
                request.model, len(query), type(exc).__name__, exc,
            )
            return SearchOutcome(notice=NOTICE_FAILED, query=query)

        if not results:
            logger.info("web search with provider %s found nothing for model %s", name, request.model)
            return SearchOutcome(notice=NOTICE_NO_RESULTS, query=query)

        limit = settings.crop_len if settings.crop else settings.max_chars
        block, kept_count = format_block(query, results, nonce=new_nonce(), now=self.ctx.clock.now(), limit=limit)
        target.content.insert(0, TextPart(text=block))
        sources = [Source(index=i, title=r.title, url=r.url) for i, r in enumerate(results[:kept_count], start=1)]
        logger.info("web search with provider %s added %d results for model %s", name, len(results), request.model)
        return SearchOutcome(sources=sources, query=query)
