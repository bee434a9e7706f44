// Chat preferences, kept in localStorage and sent with every message.
import { useSyncExternalStore } from "react";
import type { ChatPreferences } from "@/api/types";
import type { SendKey } from "./ime";

export interface Preferences {
  contextLength: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  presencePenalty: number;
  frequencyPenalty: number;
  sendKey: SendKey;
  model: string | null;
  pinnedModels: string[];
  search: boolean;
}

const isMobile = typeof window !== "undefined" && window.matchMedia?.("(pointer: coarse)").matches;

export const DEFAULT_PREFERENCES: Preferences = {
  contextLength: 8,
  maxTokens: 2000,
  temperature: 0.6,
  topP: 1,
  topK: 5,
  presencePenalty: 0,
  frequencyPenalty: 0,
  // Enter sends on desktop; on touch devices Enter inserts a newline and Ctrl+Enter sends.
  sendKey: isMobile ? "ctrl-enter" : "enter",
  model: null,
  pinnedModels: [],
  search: false,
};

const KEY = "preferences";
const listeners = new Set<() => void>();
let current: Preferences = load();

function load(): Preferences {
  try {
    const raw = localStorage.getItem(KEY);
    if (raw) return { ...DEFAULT_PREFERENCES, ...JSON.parse(raw) };
  } catch {
    // Invalid or unavailable storage: defaults.
  }
  return { ...DEFAULT_PREFERENCES };
}

export function getPreferences(): Preferences {
  return current;
}

export function setPreferences(patch: Partial<Preferences>): void {
  current = { ...current, ...patch };
  try {
    localStorage.setItem(KEY, JSON.stringify(current));
  } catch {
    // Ignore: preferences then last for this page only.
  }
  listeners.forEach((listener) => listener());
}

export function resetPreferences(): void {
  setPreferences({ ...DEFAULT_PREFERENCES, pinnedModels: current.pinnedModels });
}

export function usePreferences(): Preferences {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => current,
  );
}

/** Return the generation parameters in the shape of the chat API's `preferences`. */
export function requestParameters(prefs: Preferences): ChatPreferences {
  return {
    context_length: prefs.contextLength,
    max_tokens: prefs.maxTokens,
    temperature: prefs.temperature,
    top_p: prefs.topP,
    top_k: prefs.topK,
    presence_penalty: prefs.presencePenalty,
    frequency_penalty: prefs.frequencyPenalty,
  };
}
