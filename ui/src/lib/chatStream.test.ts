import { afterEach, describe, expect, it, vi } from "vitest";
import { decodeEvent, mergeToolCall, sendAnonymous, sendMessage, type ChatEvent } from "./chatStream";

function sseResponse(chunks: string[], fail = false): Response {
  const encoder = new TextEncoder();
  const queue = [...chunks];
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = queue.shift();
      if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
      else if (fail) controller.error(new TypeError("network error"));
      else controller.close();
    },
  });
  return new Response(stream, { headers: { "Content-Type": "text/event-stream" } });
}

describe("sendMessage", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("resumes after a dropped connection with Last-Event-ID", async () => {
    const calls: { url: string; lastEventId: string | null }[] = [];
    const fetchMock = vi.fn(async (url: string, init: RequestInit) => {
      const headers = (init.headers ?? {}) as Record<string, string>;
      calls.push({ url, lastEventId: headers["Last-Event-ID"] ?? null });
      if (calls.length === 1) {
        return sseResponse(
          [
            'id: 1\nevent: conversation\ndata: {"id": 7, "title": "hi"}\n\n',
            'id: 1a\nevent: message\ndata: {"id": 42, "conversation_id": 7, "role": "assistant"}\n\n',
            'id: 2\nevent: delta\ndata: {"text": "Hel"}\n\n',
          ],
          true,
        );
      }
      return sseResponse(['id: 3\nevent: delta\ndata: {"text": "lo"}\n\n', "id: 4\nevent: done\ndata: {}\n\n"]);
    });
    vi.stubGlobal("fetch", fetchMock);

    const events: ChatEvent[] = [];
    const result = await sendMessage("new", { text: "hi" }, (event) => events.push(event));

    expect(calls.map((call) => call.url)).toEqual(["/api/conversations/new/messages", "/api/messages/42/events"]);
    expect(calls[1].lastEventId).toBe("2");
    const text = events.flatMap((event) => (event.type === "delta" ? [event.text] : [])).join("");
    expect(text).toBe("Hello");
    expect(result.finished).toBe(true);
    expect(result.conversationId).toBe("7");
  });
});

describe("sendAnonymous", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("resumes by session key on the anonymous route", async () => {
    const calls: { url: string; lastEventId: string | null }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        const headers = (init.headers ?? {}) as Record<string, string>;
        calls.push({ url, lastEventId: headers["Last-Event-ID"] ?? null });
        if (calls.length === 1) {
          return sseResponse(
            ['id: 1-0\nevent: session\ndata: {"key": "anon-abcdefghijklmnopqrstuv"}\n\n', 'id: 2-0\nevent: delta\ndata: {"text": "Hi"}\n\n'],
            true,
          );
        }
        return sseResponse(['id: 3-0\nevent: delta\ndata: {"text": "!"}\n\n', 'id: 4-0\nevent: done\ndata: {"message": null}\n\n']);
      }),
    );

    const events: ChatEvent[] = [];
    const body = { messages: [{ role: "user" as const, content: "hello" }], model: "free" };
    const result = await sendAnonymous(body, (event) => events.push(event));

    expect(calls.map((call) => call.url)).toEqual([
      "/api/chat/anonymous",
      "/api/chat/anonymous/anon-abcdefghijklmnopqrstuv/events",
    ]);
    expect(calls[1].lastEventId).toBe("2-0");
    expect(events.flatMap((event) => (event.type === "delta" ? [event.text] : [])).join("")).toBe("Hi!");
    expect(result.messageId).toBe("anon-abcdefghijklmnopqrstuv");
    expect(result.finished).toBe(true);
  });
});

describe("tool calls", () => {
  it("decodes a tool_call event", () => {
    const event = decodeEvent({ event: "tool_call", id: "5", data: '{"index": 0, "id": "call_1", "name": "lookup", "arguments": "{\\"q\\""}' });
    expect(event).toEqual({ type: "tool_call", call: { index: 0, id: "call_1", name: "lookup", arguments: '{"q"' } });
  });

  it("merges argument pieces by index", () => {
    let calls = mergeToolCall([], { index: 0, id: "call_1", name: "lookup", arguments: '{"q":' });
    calls = mergeToolCall(calls, { index: 1, id: "call_2", name: "clock", arguments: "{}" });
    calls = mergeToolCall(calls, { index: 0, id: null, name: null, arguments: ' "tea"}' });
    expect(calls).toEqual([
      { index: 0, id: "call_1", name: "lookup", arguments: '{"q": "tea"}' },
      { index: 1, id: "call_2", name: "clock", arguments: "{}" },
    ]);
  });
});
