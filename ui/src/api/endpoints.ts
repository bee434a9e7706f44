// One function per route the web app calls.
import { api } from "./client";
import type * as T from "./types";

export const auth = {
  options: () => api.get<T.AuthOptions>("/api/auth/options"),
  login: (username: string, password: string) => api.post<T.LoginResponse>("/api/auth/login", { username, password }),
  register: (body: { username: string; password: string; email?: string; code?: string }) =>
    api.post<T.LoginResponse>("/api/auth/register", body),
  logout: () => api.post<void>("/api/auth/logout"),
  me: () => api.get<T.Me>("/api/auth/me"),
  changePassword: (old_password: string, new_password: string) =>
    api.post<T.LoginResponse>("/api/auth/password", { old_password, new_password }),
  emailCode: (email: string, purpose: "register" | "reset") => api.post<void>("/api/auth/email-code", { email, purpose }),
};

export const keys = {
  list: () => api.get<T.ApiKey[]>("/api/keys"),
  create: (name: string) => api.post<T.ApiKeyCreated>("/api/keys", { name }),
  roll: (id: number) => api.post<T.ApiKeyCreated>(`/api/keys/${id}/roll`),
  update: (id: number, body: { name?: string; enabled?: boolean }) => api.patch<T.ApiKey>(`/api/keys/${id}`, body),
  remove: (id: number) => api.delete<void>(`/api/keys/${id}`),
};

export const billing = {
  balance: () => api.get<T.Balance>("/api/billing/balance"),
  ledger: (page = 1, size = 20) => api.get<T.LedgerPage>("/api/billing/ledger", { page, size }),
  redeem: (code: string) => api.post<{ points: T.Points }>("/api/billing/redeem", { code }),
  gift: (code: string) => api.post<{ points: T.Points }>("/api/billing/gift", { code }),
  plans: () => api.get<T.Plan[]>("/v1/plans"),
  subscription: () => api.get<T.SubscriptionState>("/api/subscription"),
  buy: (level: number, months: number) =>
    api.post<{ action: string; paid: T.Points; subscription: T.SubscriptionState }>("/api/subscription/buy", { level, months }),
};

export const chat = {
  conversations: (query: { q?: string; page?: number; size?: number }) =>
    api.get<T.ConversationPage>("/api/conversations", query),
  conversation: (id: string, limit = 100) => api.get<T.Conversation>(`/api/conversations/${id}`, { limit }),
  olderMessages: (id: string, before: number, limit = 100) =>
    api.get<{ messages: T.ChatMessage[]; before: number | null }>(`/api/conversations/${id}/messages`, { before, limit }),
  rename: (id: string, title: string) => api.patch<T.ConversationSummary>(`/api/conversations/${id}`, { title }),
  remove: (id: string) => api.delete<void>(`/api/conversations/${id}`),
  removeAll: () => api.delete<void>("/api/conversations"),
  deleteMessage: (id: string | number) => api.delete<void>(`/api/messages/${id}`),
  editMessage: (id: string | number, text: string) => api.patch<unknown>(`/api/messages/${id}`, { text, regenerate: false }),
  fork: (conversationId: string, messageId: string | number) =>
    api.post<T.ConversationSummary>(`/api/conversations/${conversationId}/fork`, { message_id: Number(messageId) }),
  stop: (messageId: string | number) => api.post<T.ChatMessage>(`/api/messages/${messageId}/stop`),
};

export const shares = {
  create: (conversation_id: string, message_ids: (string | number)[]) =>
    api.post<T.ShareSummary>("/api/shares", { conversation_id: Number(conversation_id), message_ids: message_ids.map(Number) }),
  get: (id: string) => api.get<T.Share>(`/api/shares/${encodeURIComponent(id)}`),
  list: () => api.get<T.ShareSummary[]>("/api/shares"),
  remove: (id: string) => api.delete<void>(`/api/shares/${encodeURIComponent(id)}`),
  fork: (id: string) => api.post<T.ConversationSummary>(`/api/shares/${encodeURIComponent(id)}/fork`),
};

export const presets = {
  list: (lang: string) => api.get<T.Preset[]>("/api/presets", { lang }),
  create: (body: T.PresetCreate) => api.post<T.Preset>("/api/presets", body),
  update: (id: string | number, body: Partial<T.PresetCreate>) => api.patch<T.Preset>(`/api/presets/${id}`, body),
  remove: (id: string | number) => api.delete<void>(`/api/presets/${id}`),
  clone: (id: string | number, lang: string) => clonePreset(id, lang),
};

function clonePreset(id: string | number, lang: string) {
  return api.post<T.Preset>(`/api/presets/${encodeURIComponent(String(id))}/clone?lang=${encodeURIComponent(lang)}`);
}

export const site = {
  info: () => api.get<T.SiteInfo>("/api/site"),
  market: () => api.get<T.MarketModel[]>("/api/market"),
  announcement: () => api.get<T.Announcement | null>("/api/announcement"),
  notifications: () => api.get<T.Announcement[]>("/api/notifications"),
};

/** Return the items of a list endpoint's response, whether an array or a page object. */
export function itemsOf<T>(value: T[] | { items?: T[] } | Record<string, unknown> | null | undefined): T[] {
  if (!value) return [];
  if (Array.isArray(value)) return value;
  for (const key of ["items", "data", "models", "plans"]) {
    const inner = (value as Record<string, unknown>)[key];
    if (Array.isArray(inner)) return inner as T[];
  }
  return [];
}
