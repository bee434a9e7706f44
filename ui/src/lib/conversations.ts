// The signed-in user's conversation list, shared by the sidebar and the chat page.
import { useSyncExternalStore } from "react";
import { chat, itemsOf } from "@/api/endpoints";
import type { ConversationSummary } from "@/api/types";
import { describeError } from "@/api/errors";

const PAGE_SIZE = 30;

interface ConversationListState {
  items: ConversationSummary[];
  /** The next page to load, or null when every page is loaded. */
  nextPage: number | null;
  query: string;
  loading: boolean;
  error: string | null;
}

let state: ConversationListState = { items: [], nextPage: null, query: "", loading: false, error: null };
const listeners = new Set<() => void>();

function update(patch: Partial<ConversationListState>): void {
  state = { ...state, ...patch };
  listeners.forEach((listener) => listener());
}

/** Load the first page (again) for the current search. */
export async function reloadConversations(query = state.query): Promise<void> {
  update({ loading: true, query, error: null });
  try {
    const page = await chat.conversations({ q: query || undefined, page: 1, size: PAGE_SIZE });
    update({ items: itemsOf<ConversationSummary>(page), nextPage: page.total > PAGE_SIZE ? 2 : null, loading: false });
  } catch (error) {
    update({ loading: false, error: describeError(error) });
  }
}

export async function loadMoreConversations(): Promise<void> {
  const pageNumber = state.nextPage;
  if (!pageNumber || state.loading) return;
  update({ loading: true });
  try {
    const page = await chat.conversations({ q: state.query || undefined, page: pageNumber, size: PAGE_SIZE });
    const known = new Set(state.items.map((item) => item.id));
    const items = [...state.items, ...itemsOf<ConversationSummary>(page).filter((item) => !known.has(item.id))];
    update({ items, nextPage: page.total > pageNumber * PAGE_SIZE ? pageNumber + 1 : null, loading: false });
  } catch (error) {
    update({ loading: false, error: describeError(error) });
  }
}

export function patchConversation(id: string, patch: Partial<ConversationSummary>): void {
  update({ items: state.items.map((item) => (String(item.id) === id ? { ...item, ...patch } : item)) });
}

export function removeConversation(id: string): void {
  update({ items: state.items.filter((item) => String(item.id) !== id) });
}

export function clearConversations(): void {
  update({ items: [], nextPage: null });
}

export function useConversations(): ConversationListState {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => state,
  );
}
