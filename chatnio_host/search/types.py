"""What search providers return and what ``SearchService.augment`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SearchOutcome", "SearchResult", "Source"]


@dataclass
class SearchResult:
    """One web search hit as a provider returns it."""

    title: str
    url: str
    snippet: str = ""


@dataclass
class Source:
    """A numbered source shown to the user and cited by the model as ``[index]``."""

    index: int
    title: str
    url: str


@dataclass
class SearchOutcome:
    """The result of augmenting one request.

    ``sources`` are the numbered results that went into the request (empty when nothing was
    searched or the search failed). ``notice`` is a short bilingual sentence for the user when
    the search failed or is not configured; it never contains the provider's address or error.
    """

    sources: list[Source] = field(default_factory=list)
    notice: str | None = None
    query: str | None = None
