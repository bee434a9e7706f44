// Shapes of the /api routes as the issues describe them. Where the generated schema
// (schema.d.ts) already has a route, prefer its types.
// TODO: replace these with types from schema.d.ts once the auth, billing and chat routers land.

export interface User {
  id: number;
  username: string;
  email?: string | null;
  role?: "user" | "admin";
  is_admin?: boolean;
  level?: number;
  must_change_password?: boolean;
}

export interface LoginResponse {
  token: string;
  user: User;
}

export interface ApiKey {
  id: number;
  name: string;
  last4?: string;
  prefix?: string;
  enabled: boolean;
  expires_at?: string | null;
  allowed_models?: string[] | null;
  created_at?: string;
  /** The full key, present only in the response that created or rolled it. */
  key?: string;
}

export interface Balance {
  points: number | string;
  held?: number | string;
}

export interface LedgerEntry {
  id: number;
  kind: string;
  delta: number | string;
  balance_after?: number | string;
  reason?: string | null;
  created_at: string;
}

export interface Page<T> {
  items: T[];
  total?: number;
  next_cursor?: string | null;
}

export interface PlanItem {
  id: string;
  name: string;
  icon?: string;
  models: string[];
  monthly_quota: number;
}

export interface Plan {
  level: number;
  name?: string;
  price: number | string;
  items: PlanItem[];
}

export interface SubscriptionState {
  level: number;
  expires_at?: string | null;
  usage?: Record<string, { used: number; total: number }>;
}

export interface MarketModel {
  id: string;
  name: string;
  description?: string;
  tags?: string[];
  avatar?: string;
  default?: boolean;
  high_context?: boolean;
  plus?: boolean;
  price?: { kind: "none" | "times" | "token"; anonymous?: boolean; input?: number; output?: number; per_request?: number };
}

export interface ConversationSummary {
  id: number | string;
  title: string;
  model?: string | null;
  updated_at?: string;
}

export interface MessagePart {
  type: string;
  text?: string;
  file_id?: string;
  name?: string;
  url?: string;
}

export interface ChatMessage {
  id: number | string;
  role: "user" | "assistant" | "system";
  content: string | MessagePart[];
  model?: string | null;
  status?: "streaming" | "pending" | "done" | "stopped" | "error" | string;
  error?: string | null;
  reasoning?: string | null;
  sources?: SearchSource[];
  tokens?: number;
  points?: number | string;
  created_at?: string;
}

export interface Conversation extends ConversationSummary {
  messages: ChatMessage[];
  next_cursor?: string | null;
}

export interface SearchSource {
  title: string;
  url: string;
  snippet?: string;
}

export interface Share {
  id: string;
  conversation_id?: number | string;
  title?: string;
  messages: ChatMessage[];
  created_at?: string;
}

export interface Preset {
  id: number | string;
  name: string;
  avatar?: string;
  description?: string;
  context?: { role: string; content: string }[];
  model?: string | null;
  builtin?: boolean;
}

export interface Announcement {
  id: number | string;
  title?: string;
  content: string;
}

export interface SiteInfo {
  name?: string;
  logo?: string;
  docs_url?: string;
  registration_closed?: boolean;
  email_verification?: boolean;
  buy_link?: string;
  footer?: string;
}

export interface UploadedFile {
  id: string;
  name: string;
  size?: number;
  preview?: string;
  content_type?: string;
}
