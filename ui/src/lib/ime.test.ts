// Send-key decisions for the IME event sequences browsers produce.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CompositionTracker, keyAction } from "./ime";

const enter = (keyCode: number, isComposing: boolean, extra: object = {}) => ({
  key: "Enter",
  keyCode,
  isComposing,
  ...extra,
});

describe("IME send key", () => {
  let tracker: CompositionTracker;

  beforeEach(() => {
    vi.useFakeTimers();
    tracker = new CompositionTracker();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it("S1 Enter while composing commits", () => {
    tracker.start();
    expect(keyAction(enter(229, true), "enter", tracker)).toBe("default");
    tracker.end();
  });

  it("S2 Enter in the compositionend task commits", () => {
    tracker.start();
    tracker.end();
    expect(keyAction(enter(229, false), "enter", tracker)).toBe("default");
  });

  it("S3 later Enter sends", () => {
    tracker.start();
    tracker.end();
    vi.advanceTimersByTime(300);
    expect(keyAction(enter(13, false), "enter", tracker)).toBe("send");
  });

  it("S4 later keyCode 229 Enter sends", () => {
    tracker.start();
    tracker.end();
    vi.advanceTimersByTime(300);
    expect(keyAction(enter(229, false), "enter", tracker)).toBe("send");
  });

  it("S5 Shift+Enter inserts a newline", () => {
    expect(keyAction(enter(13, false, { shiftKey: true }), "enter", tracker)).toBe("default");
  });

  it("S6 Alt after a commit never sends", () => {
    tracker.start();
    keyAction(enter(229, true), "enter", tracker);
    tracker.end();
    vi.advanceTimersByTime(300);
    for (let round = 0; round < 3; round++) {
      expect(keyAction({ key: "Alt", altKey: true }, "enter", tracker)).toBe("default");
    }
  });

  it("S8 plain Enter with Ctrl+Enter as send key", () => {
    expect(keyAction(enter(13, false), "ctrl-enter", tracker)).toBe("default");
    expect(keyAction(enter(13, false, { ctrlKey: true }), "ctrl-enter", tracker)).toBe("send");
    expect(keyAction(enter(13, false, { metaKey: true }), "ctrl-enter", tracker)).toBe("send");
  });

  it("Ctrl+Enter with Enter as send key does not send", () => {
    expect(keyAction(enter(13, false, { ctrlKey: true }), "enter", tracker)).toBe("default");
  });
});
