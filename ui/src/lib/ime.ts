// Send-key handling that is safe for IME users (Chinese, Japanese, Korean input methods).
//
// An Enter is a commit of the IME candidate, never a send, when it arrives while a composition is
// active (Chromium and Firefox: keydown with isComposing before compositionend), or in the same task
// as compositionend (WebKit fires compositionend before the confirming keydown, with isComposing
// false). An Enter that arrives later with no composition active is a send whatever its keyCode:
// Chrome on macOS reports keyCode 229 for ordinary Enters too. No user-agent sniffing.

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

  /** Whether a keydown now belongs to an IME composition. */
  isImeKey(event: KeyLike): boolean {
    return Boolean(event.isComposing) || this.composing || this.endedThisTask;
  }
}

/** What an Enter-family keydown should do: send or submit, or leave the default (newline or commit). */
export function keyAction(event: KeyLike, sendKey: SendKey, tracker: CompositionTracker): "send" | "default" {
  if (event.key !== "Enter") return "default";
  if (tracker.isImeKey(event)) return "default";
  if (event.shiftKey || event.altKey) return "default";
  const modifier = Boolean(event.ctrlKey || event.metaKey);
  if (sendKey === "enter") return modifier ? "default" : "send";
  return modifier ? "send" : "default";
}
