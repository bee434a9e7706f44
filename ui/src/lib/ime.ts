// Send-key handling that is safe for IME users (Chinese, Japanese, Korean input methods).
//
// An Enter that arrives while a composition is active commits the IME candidate and never sends.
// Chromium and Firefox fire that keydown with isComposing before compositionend. WebKit fires
// compositionend first and the confirming keydown in the same task, with isComposing false, so an
// Enter in the same task as compositionend is a commit too. An Enter that arrives later with no
// composition active sends, whatever its keyCode, because Chrome on macOS reports keyCode 229 for
// ordinary Enters too. The rules use no user-agent sniffing.

export type SendKey = "enter" | "ctrl-enter";

export interface KeyLike {
  key: string;
  isComposing?: boolean;
  shiftKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
}

export class CompositionTracker {
  private composing = false;
  private endedThisTask = false;

  start(): void {
    this.composing = true;
  }

  end(): void {
    this.composing = false;
    this.endedThisTask = true;
    // A macrotask boundary: keydowns dispatched in the same task as compositionend see the flag.
    setTimeout(() => {
      this.endedThisTask = false;
    }, 0);
  }

  /** Return whether a keydown now belongs to an IME composition. */
  isImeKey(event: KeyLike): boolean {
    return Boolean(event.isComposing) || this.composing || this.endedThisTask;
  }
}

/** Decide what a keydown does: "send", or "default" to leave the browser's action (newline or commit). */
export function keyAction(event: KeyLike, sendKey: SendKey, tracker: CompositionTracker): "send" | "default" {
  if (event.key !== "Enter") return "default";
  if (tracker.isImeKey(event)) return "default";
  if (event.shiftKey || event.altKey) return "default";
  const modifier = Boolean(event.ctrlKey || event.metaKey);
  if (sendKey === "enter") return modifier ? "default" : "send";
  return modifier ? "send" : "default";
}
