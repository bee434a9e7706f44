// Streaming a chat reply: POST the message, read the SSE response with fetch, and resume with
// GET /api/messages/{id}/events (or /api/chat/anonymous/{key}/events) and Last-Event-ID when the
// connection drops.
import { authHeaders, errorFromResponse } from "@/api/client";
import { localizeError } from "@/api/errors";
import type { AnonymousChat, SearchSource, ToolCall } from "@/api/types";
import { SseParser, type SseEvent } from "./sse";

export type ChatEvent =
  | { type: "conversation"; conversationId: string | null; messageId: string | null; userMessageId: string | null }
  | { type: "delta"; text: string }
  | { type: "reasoning"; text: string }
  | { type: "search_results"; sources: SearchSource[] }
  | { type: "notice"; message: string }
  | { type: "usage"; tokens: number | null; points: string | null; subscription: boolean }
  | { type: "session"; key: string }
  | { type: "tool_call"; call: ToolCallDelta }
  | { type: "error"; message: string }
  | { type: "done"; messageId: string | null };

/** One `tool_call` event: `id` and `name` arrive once, `arguments` in pieces to append. */
export interface ToolCallDelta {
  index: number;
  id: string | null;
  name: string | null;
  arguments: string;
}

/** Merge a `tool_call` event into the calls so far (by index), as the host merges them when saving. */
export function mergeToolCall(calls: ToolCall[], delta: ToolCallDelta): ToolCall[] {
  const next = [...calls];
  const position = next.findIndex((call) => call.index === delta.index);
  const previous = position >= 0 ? next[position] : { index: delta.index, id: null, name: null, arguments: "" };
  const merged = {
    index: delta.index,
    id: delta.id || previous.id,
    name: delta.name || previous.name,
    arguments: (previous.arguments ?? "") + delta.arguments,
  };
  if (position >= 0) next[position] = merged;
  else next.push(merged);
  return next;
}

function asId(value: unknown): string | null {
  return value === undefined || value === null || value === "" ? null : String(value);
}

/** Turn one SSE event into a typed chat event (unknown event names are ignored). */
export function decodeEvent(event: SseEvent): ChatEvent | null {
  let data: Record<string, unknown> = {};
  try {
    const parsed = event.data ? JSON.parse(event.data) : {};
    data = typeof parsed === "object" && parsed !== null ? parsed : { text: String(parsed) };
  } catch {
    data = { text: event.data };
  }
  const text = String(data.text ?? data.content ?? data.delta ?? "");
  switch (event.event) {
    // `conversation` announces a new conversation; `message` the assistant message being written.
    case "conversation":
      return { type: "conversation", conversationId: asId(data.id), messageId: null, userMessageId: null };
    case "message":
      return { type: "conversation", conversationId: asId(data.conversation_id), messageId: asId(data.id), userMessageId: null };
    case "user_message":
      return { type: "conversation", conversationId: null, messageId: null, userMessageId: asId(data.id) };
    case "delta":
      return { type: "delta", text };
    case "reasoning":
      return { type: "reasoning", text };
    case "search_results":
      return { type: "search_results", sources: (data.results ?? data.sources ?? []) as SearchSource[] };
    case "notice":
      return { type: "notice", message: String(data.message ?? text) };
    case "usage":
      return {
        type: "usage",
        tokens: typeof data.tokens === "number" ? data.tokens : Number(data.output_tokens ?? 0) || null,
        points: data.points === undefined ? null : String(data.points),
        subscription: Boolean(data.subscription),
      };
    case "session":
      return { type: "session", key: String(data.key ?? "") };
    case "tool_call":
      return {
        type: "tool_call",
        call: {
          index: Number(data.index ?? 0),
          id: asId(data.id),
          name: data.name ? String(data.name) : null,
          arguments: String(data.arguments ?? ""),
        },
      };
    case "error":
      return {
        type: "error",
        message: localizeError(asId(data.code), asId(data.param), String(data.message ?? text)),
      };
    case "done": {
      const message = data.message as { id?: unknown } | undefined;
      return { type: "done", messageId: asId(message?.id ?? data.message_id) };
    }
    default:
      return null;
  }
}

export interface StreamResult {
  /** The message id, or the session key of an anonymous answer. */
  messageId: string | null;
  conversationId: string | null;
  lastEventId: string | null;
  finished: boolean;
}

async function readStream(
  response: Response,
  result: StreamResult,
  onEvent: (event: ChatEvent) => void,
): Promise<void> {
  const headerId = response.headers.get("x-message-id");
  if (headerId && !result.messageId) result.messageId = headerId;
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  const handle = (events: SseEvent[]) => {
    for (const raw of events) {
      if (raw.id !== null) result.lastEventId = raw.id;
      const event = decodeEvent(raw);
      if (!event) continue;
      if (event.type === "conversation") {
        result.conversationId = event.conversationId ?? result.conversationId;
        result.messageId = event.messageId ?? result.messageId;
      }
      if (event.type === "session" && event.key) result.messageId = event.key;
      if (event.type === "done" || event.type === "error") result.finished = true;
      onEvent(event);
    }
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    handle(parser.push(value));
  }
  handle(parser.end());
}

const RESUME_ATTEMPTS = 5;

/** Return the resume URL of a generation. Anonymous session keys start with "anon-", message ids are numbers. */
export function eventsPath(messageId: string): string {
  return messageId.startsWith("anon-")
    ? `/api/chat/anonymous/${encodeURIComponent(messageId)}/events`
    : `/api/messages/${messageId}/events`;
}

/** Return the stop URL of a generation, chosen like `eventsPath`. */
export function stopPath(messageId: string): string {
  return messageId.startsWith("anon-")
    ? `/api/chat/anonymous/${encodeURIComponent(messageId)}/stop`
    : `/api/messages/${messageId}/stop`;
}

async function resumeLoop(result: StreamResult, onEvent: (event: ChatEvent) => void, signal?: AbortSignal) {
  for (let attempt = 0; !result.finished && result.messageId && attempt < RESUME_ATTEMPTS; attempt++) {
    if (signal?.aborted) return;
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    try {
      const headers = authHeaders({ Accept: "text/event-stream" });
      if (result.lastEventId) headers["Last-Event-ID"] = result.lastEventId;
      const response = await fetch(eventsPath(result.messageId), { headers, signal });
      if (!response.ok) throw await errorFromResponse(response);
      await readStream(response, result, onEvent);
    } catch (error) {
      if (signal?.aborted) return;
      if (error instanceof Error && error.name === "ApiError") throw error;
    }
  }
}

/** POST to a streaming chat route and read its reply, resuming after a dropped connection. */
export async function postStream(
  path: string,
  body: object,
  onEvent: (event: ChatEvent) => void,
  signal?: AbortSignal,
  method = "POST",
): Promise<StreamResult> {
  const result: StreamResult = { messageId: null, conversationId: null, lastEventId: null, finished: false };
  const response = await fetch(path, {
    method,
    headers: authHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorFromResponse(response);
  try {
    await readStream(response, result, onEvent);
  } catch (error) {
    if (signal?.aborted) return result;
    if (!result.messageId) throw error;
  }
  await resumeLoop(result, onEvent, signal);
  return result;
}

/** Send a message in a conversation (`new` creates one) and stream the reply. */
export function sendMessage(
  conversationId: string,
  body: object,
  onEvent: (event: ChatEvent) => void,
  signal?: AbortSignal,
): Promise<StreamResult> {
  return postStream(`/api/conversations/${conversationId}/messages`, body, onEvent, signal);
}

/** Follow a message that is still generating (after a reload), from `lastEventId` or the start. */
export async function resumeMessage(
  messageId: string,
  lastEventId: string | null,
  onEvent: (event: ChatEvent) => void,
  signal?: AbortSignal,
): Promise<StreamResult> {
  const result: StreamResult = { messageId, conversationId: null, lastEventId, finished: false };
  await resumeLoop(result, onEvent, signal);
  return result;
}

/** Ask a free anonymous model without signing in; the host stores nothing. */
export function sendAnonymous(
  body: AnonymousChat,
  onEvent: (event: ChatEvent) => void,
  signal?: AbortSignal,
): Promise<StreamResult> {
  return postStream("/api/chat/anonymous", body, onEvent, signal);
}
