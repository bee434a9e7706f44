import { afterEach, describe, expect, it, vi } from "vitest";
import { sendMessage, type ChatEvent } from "./chatStream";

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
