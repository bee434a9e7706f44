// One function per /api route the web app calls.
import { api } from "./client";
import type * as T from "./types";

export const auth = {
  login: (username: string, password: string) => api.post<T.LoginResponse>("/api/auth/login", { username, password }),
  register: (body: { username: string; password: string; email?: string; code?: string }) =>
    api.post<T.LoginResponse>("/api/auth/register", body),
  logout: () => api.post<void>("/api/auth/logout"),
  me: () => api.get<T.User>("/api/auth/me"),
  changePassword: (old_password: string, new_password: string) =>
    api.post<void>("/api/auth/password", { old_password, new_password }),
  emailCode: (email: string, purpose: "register" | "reset") => api.post<void>("/api/auth/email-code", { email, purpose }),
};

export const keys = {
  list: () => api.get<T.ApiKey[] | T.Page<T.ApiKey>>("/api/keys"),
  create: (name: string) => api.post<T.ApiKey>("/api/keys", { name }),
  roll: (id: number) => api.post<T.ApiKey>(`/api/keys/${id}/roll`),
  update: (id: number, body: Partial<Pick<T.ApiKey, "name" | "enabled">>) => api.patch<T.ApiKey>(`/api/keys/${id}`, body),
  remove: (id: number) => api.delete<void>(`/api/keys/${id}`),
};

export const billing = {
  balance: () => api.get<T.Balance>("/api/billing/balance"),
  ledger: (cursor?: string) => api.get<T.Page<T.LedgerEntry>>("/api/billing/ledger", { cursor }),
  redeem: (code: string) => api.post<T.Balance>("/api/billing/redeem", { code }),
  gift: (code: string) => api.post<T.Balance>("/api/billing/gift", { code }),
  plans: () => api.get<T.Plan[] | { plans: T.Plan[] }>("/v1/plans"),
  subscription: () => api.get<T.SubscriptionState>("/api/subscription"),
  buy: (level: number, months: number) => api.post<T.SubscriptionState>("/api/subscription/buy", { level, months }),
};

export const chat = {
  conversations: (query: { q?: string; cursor?: string }) =>
    api.get<T.Page<T.ConversationSummary>>("/api/conversations", query),
  conversation: (id: string, cursor?: string) => api.get<T.Conversation>(`/api/conversations/${id}`, { cursor }),
  rename: (id: string, title: string) => api.patch<T.ConversationSummary>(`/api/conversations/${id}`, { title }),
  remove: (id: string) => api.delete<void>(`/api/conversations/${id}`),
  removeAll: () => api.delete<void>("/api/conversations"),
  deleteMessage: (id: string | number) => api.delete<void>(`/api/messages/${id}`),
  editMessage: (id: string | number, text: string) => api.patch<T.ChatMessage>(`/api/messages/${id}`, { text }),
  fork: (conversationId: string, messageId: string | number) =>
    api.post<T.ConversationSummary>(`/api/conversations/${conversationId}/fork`, { message_id: messageId }),
  stop: (messageId: string | number) => api.post<void>(`/api/messages/${messageId}/stop`),
};

export const shares = {
  create: (conversation_id: string, message_ids: (string | number)[]) =>
    api.post<T.Share>("/api/shares", { conversation_id, message_ids }),
  get: (id: string) => api.get<T.Share>(`/api/shares/${id}`),
  list: () => api.get<T.Share[] | T.Page<T.Share>>("/api/shares"),
  remove: (id: string) => api.delete<void>(`/api/shares/${id}`),
  fork: (id: string) => api.post<T.ConversationSummary>(`/api/shares/${id}/fork`),
};

export const presets = {
  list: () => api.get<T.Preset[] | T.Page<T.Preset>>("/api/presets"),
  create: (body: Omit<T.Preset, "id">) => api.post<T.Preset>("/api/presets", body),
  update: (id: string | number, body: Partial<T.Preset>) => api.patch<T.Preset>(`/api/presets/${id}`, body),
  remove: (id: string | number) => api.delete<void>(`/api/presets/${id}`),
  clone: (id: string | number) => api.post<T.Preset>(`/api/presets/${id}/clone`),
};

export const site = {
  info: () => api.get<T.SiteInfo>("/api/site"),
  market: () => api.get<T.MarketModel[] | { models: T.MarketModel[] }>("/api/market"),
  announcement: () => api.get<T.Announcement | null>("/api/announcement"),
};

/** Unwrap list endpoints that answer either an array or a page object. */
export function itemsOf<T>(value: T[] | { items?: T[] } | Record<string, unknown> | null | undefined): T[] {
  if (!value) return [];
  if (Array.isArray(value)) return value;
  for (const key of ["items", "models", "plans", "data"]) {
    const inner = (value as Record<string, unknown>)[key];
    if (Array.isArray(inner)) return inner as T[];
  }
  return [];
}
