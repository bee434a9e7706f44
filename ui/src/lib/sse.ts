// Incremental parser for Server-Sent Events (the WHATWG event-stream format).
// Handles events split across reads, CRLF and CR line ends, comments, multi-line data and ids.

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

export class SseParser {
  private buffer = "";
  private dataLines: string[] = [];
  private eventName = "";
  private eventId: string | null = null;
  /** The id of the last event seen, carried over events without an `id:` field. */
  lastEventId: string | null = null;

  /** Feed decoded text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone CR at the very end may be the first half of a CRLF split across reads.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.processLine(line);
      if (event) events.push(event);
    }
    return events;
  }

  /** Flush at the end of the stream: a final event without a blank line is dispatched. */
  end(): SseEvent[] {
    const events = this.buffer ? this.push("\n") : [];
    const last = this.processLine("");
    if (last) events.push(last);
    return events;
  }

  private processLine(line: string): SseEvent | null {
    if (line === "") {
      if (this.dataLines.length === 0) {
        this.eventName = "";
        return null;
      }
      const event: SseEvent = {
        event: this.eventName || "message",
        data: this.dataLines.join("\n"),
        id: this.eventId,
      };
      this.dataLines = [];
      this.eventName = "";
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.dataLines.push(value);
        break;
      case "event":
        this.eventName = value;
        break;
      case "id":
        if (!value.includes("\u0000")) {
          this.eventId = value;
          this.lastEventId = value;
        }
        break;
      default:
        break;
    }
    return null;
  }
}
