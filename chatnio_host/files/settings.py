"""The ``files`` site settings section: upload limits and how attachments reach each model."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["DEFAULT_VISION_MODELS", "FileSettings", "SECTION"]

SECTION = "files"

# Substrings that mark a model as able to see images (the list the original Chat Nio used).
DEFAULT_VISION_MODELS = [
    "gpt-4-vision-preview",
    "gpt-4-1106-vision-preview",
    "gpt-4-turbo",
    "gpt-4o",
    "gpt-4.1",
    "gemini-pro-vision",
    "gemini-1.5",
    "gemini-2",
    "claude-3",
    "claude-sonnet-4",
    "claude-opus-4",
    "glm-4v",
]


class FileSettings(BaseModel):
    """Upload limits and attachment rules, editable by admins at run time."""

    max_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Largest upload in bytes; larger ones get 413.")
    max_chars: int = Field(
        100_000, ge=1, description="Characters (code points) of extracted text kept per file; the rest is cut."
    )
    model_chars: int = Field(
        5_000, ge=1, description="Characters of a file sent to a model that is not in high_context_models."
    )
    high_context_models: list[str] = Field(
        default_factory=list,
        description="Models that receive up to max_chars of each file; '*' means every model.",
    )
    vision_models: list[str] = Field(
        default_factory=lambda: list(DEFAULT_VISION_MODELS),
        description="Substrings of model names that can see images; other models get a note instead.",
    )
    vision_exclude: list[str] = Field(
        default_factory=lambda: ["gpt-4-turbo-preview"],
        description="Substrings of model names that cannot see images even when vision_models matches.",
    )
    max_expanded_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Largest total size a ZIP-based file (docx, xlsx, pptx) may expand to."
    )
    max_entries: int = Field(5_000, ge=1, description="Most entries a ZIP-based file may contain.")
    parse_timeout: float = Field(60.0, gt=0, description="Seconds a parser may run before the upload fails.")
    fetch_timeout: float = Field(20.0, gt=0, description="Seconds to download a file attached by link.")
    fetch_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names that links may point at even when they resolve to private or loopback addresses.",
    )

    def is_high_context(self, model: str) -> bool:
        """Return whether ``model`` receives up to ``max_chars`` of each file."""
        return "*" in self.high_context_models or model in self.high_context_models

    def can_see_images(self, model: str) -> bool:
        """Return whether ``model`` accepts images, by substring of its name."""
        name = model.lower()
        if any(part.lower() in name for part in self.vision_exclude):
            return False
        return any(part.lower() in name for part in self.vision_models)

    def chars_for(self, model: str | None) -> int:
        """Return how many characters of a file ``model`` receives."""
        if model is None or self.is_high_context(model):
            return self.max_chars
        return min(self.model_chars, self.max_chars)
