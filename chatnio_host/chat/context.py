"""Turn stored messages into the canonical request the relay runs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from chatnio_host.chat.schemas import ChatPreferences, SendMessage
from chatnio_host.db.models.chat import ChatMessage
from chatnio_host.db.models.user import User
from chatnio_host.errors import InvalidRequest
from chatnio_host.relay.canonical import ChatRequest, ImagePart, Message, Part, TextPart, ToolCall

if TYPE_CHECKING:
    from chatnio_host.context import AppContext

__all__ = ["build_request", "stored_user_content"]

logger = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")


def _image_part(url: str) -> ImagePart:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";")[0] or None
        if ";base64" not in header or not data:
            raise InvalidRequest("An attached image is a data: URL without base64 data.", param="images")
        return ImagePart(data=data, media_type=media_type)
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest("An attached image must be an http(s) URL or a data: URL.", param="images")
    return ImagePart(url=url)


async def stored_user_content(ctx: AppContext, user: User, body: SendMessage) -> list[dict[str, Any]]:
    """Return the content parts to store for a new user message, checking attached files exist."""
    content: list[dict[str, Any]] = []
    if body.file_ids:
        files = ctx.services.get("files")
        if files is None:
            raise InvalidRequest("File uploads are not installed on this site.", param="file_ids")
        # Resolving the parts now rejects unknown or foreign file ids before anything is stored.
        await files.parts_for(user.id, body.file_ids, body.model)
        content.extend({"type": "file", "file_id": file_id} for file_id in body.file_ids)
    for url in body.images:
        _image_part(url)
        content.append({"type": "image", "url": url})
    if body.text:
        content.append({"type": "text", "text": body.text})
    return content


async def _parts(ctx: AppContext, user: User, content: list[dict[str, Any]], model: str) -> list[Part]:
    parts: list[Part] = []
    file_ids = [part["file_id"] for part in content if part.get("type") == "file"]
    if file_ids:
        files = ctx.services.get("files")
        if files is not None:
            parts.extend(await files.parts_for(user.id, file_ids, model))
    for part in content:
        kind = part.get("type")
        if kind == "image" and part.get("url"):
            parts.append(_image_part(part["url"]))
        elif kind == "text" and part.get("text"):
            parts.append(TextPart(part["text"]))
    return parts


async def build_request(
    ctx: AppContext,
    user: User,
    history: list[ChatMessage],
    *,
    model: str,
    preferences: ChatPreferences,
    continue_text: str | None = None,
) -> ChatRequest:
    """Build the request for the next answer from ``history`` (oldest first)."""
    messages: list[Message] = []
    for row in history:
        if row.role not in ROLES:
            continue
        parts = await _parts(ctx, user, row.content or [], model)
        calls = [
            ToolCall(id=call.get("id") or f"call_{index}", name=call.get("name") or "", arguments=call.get("arguments") or "")
            for index, call in enumerate(row.tool_calls or [])
        ]
        if not parts and not calls:
            continue
        messages.append(Message(role=row.role, content=parts, tool_calls=calls))  # type: ignore[arg-type]
    if continue_text:
        messages.append(Message(role="user", content=[TextPart(continue_text)]))
    if not messages:
        raise InvalidRequest("There is nothing to answer in this conversation.", param="text")
    return ChatRequest(
        model=model,
        messages=messages,
        stream=True,
        max_tokens=preferences.max_tokens,
        temperature=preferences.temperature,
        top_p=preferences.top_p,
        top_k=preferences.top_k,
        presence_penalty=preferences.presence_penalty,
        frequency_penalty=preferences.frequency_penalty,
        include_usage=True,
        inbound_format="chat",
    )
