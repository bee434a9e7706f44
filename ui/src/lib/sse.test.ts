import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("parses events split across reads", () => {
    const parser = new SseParser();
    expect(parser.push("id: 1\nevent: delta\nda")).toEqual([]);
    expect(parser.push('ta: {"text":"a"}\n\n')).toEqual([{ id: "1", event: "delta", data: '{"text":"a"}' }]);
    expect(parser.lastEventId).toBe("1");
  });

  it("handles CRLF split between reads", () => {
    const parser = new SseParser();
    expect(parser.push("data: x\r")).toEqual([]);
    expect(parser.push("\n\r\n")).toEqual([{ id: null, event: "message", data: "x" }]);
  });

  it("joins multi-line data and skips comments", () => {
    const parser = new SseParser();
    const events = parser.push(": keep-alive\ndata: a\ndata: b\n\n");
    expect(events).toEqual([{ id: null, event: "message", data: "a\nb" }]);
  });

  it("flushes a final event at the end", () => {
    const parser = new SseParser();
    parser.push("event: done\ndata: {}");
    expect(parser.end()).toEqual([{ id: null, event: "done", data: "{}" }]);
  });
});
