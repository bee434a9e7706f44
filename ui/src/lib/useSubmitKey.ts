import { useMemo } from "react";
import type { CompositionEvent, KeyboardEvent } from "react";
import { CompositionTracker, keyAction, type SendKey } from "./ime";

/**
 * Props for a textarea or input that submits on the send key without breaking IME composition.
 * `onSubmit` receives the element's current value (read from the DOM, not from React state).
 */
export function useSubmitKey(onSubmit: (value: string) => void, sendKey: SendKey = "enter") {
  const tracker = useMemo(() => new CompositionTracker(), []);
  return {
    onCompositionStart: (_event: CompositionEvent<HTMLElement>) => tracker.start(),
    onCompositionEnd: (_event: CompositionEvent<HTMLElement>) => tracker.end(),
    onKeyDown: (event: KeyboardEvent<HTMLTextAreaElement | HTMLInputElement>) => {
      const native = event.nativeEvent;
      const action = keyAction(
        {
          key: event.key,
          isComposing: native.isComposing,
          shiftKey: event.shiftKey,
          ctrlKey: event.ctrlKey,
          metaKey: event.metaKey,
          altKey: event.altKey,
        },
        sendKey,
        tracker,
      );
      if (action !== "send") return;
      event.preventDefault();
      onSubmit(event.currentTarget.value);
    },
  };
}
