// API shapes. Routes with response models use the generated schema (schema.d.ts, from
// `npm run gen:api`); routes that return a plain object are typed here from the host's code.
import type { components } from "./schema";

type Schemas = components["schemas"];

export type User = Schemas["UserOut"] & { must_change_password?: boolean };
export type Me = Schemas["MeOut"];
export type LoginResponse = Schemas["TokenOut"];
export type AuthOptions = Schemas["AuthOptions"];
export type ApiKey = Schemas["ApiKeyOut"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type SiteInfo = Schemas["SitePublic"];
export type Announcement = Schemas["AnnouncementPublic"];
export type MarketModel = Schemas["MarketEntryPublic"];
export type Preset = Schemas["PresetPublic"];
export type PresetCreate = Schemas["PresetCreate"];
export type ConversationSummary = Schemas["ConversationPublic"];
export type ConversationPage = Schemas["ConversationsPublic"];
export type ShareSummary = Schemas["ShareSummary"];
export type SendMessageBody = Schemas["SendMessage"];
export type ChatPreferences = Schemas["ChatPreferences"];
export type AnonymousChat = Schemas["AnonymousChat"];
export type AnonymousTurn = Schemas["AnonymousTurn"];
export type Plan = Schemas["Plan"];

/** Points are JSON numbers or decimal strings with at most 6 decimals. */
export type Points = number | string;

export interface Balance {
  balance: Points;
  available: Points;
  held: Points;
  used: Points;
}

export interface LedgerEntry {
  id: number;
  delta: Points;
  kind: string;
  request_id: string | null;
  reference: string | null;
  note: string | null;
  created_at: string;
}

export interface LedgerPage {
  items: LedgerEntry[];
  total: number;
  page: number;
  size: number;
}

export interface SubscriptionState {
  enabled: boolean;
  level: number;
  is_subscribed: boolean;
  expires_at: string | null;
  expired_days: number;
  usage: Record<string, { used: number; total: number }>;
}

export interface MessagePart {
  type: string;
  text?: string;
  file_id?: string;
  name?: string;
  url?: string;
}

export interface SearchSource {
  title: string;
  url: string;
  snippet?: string;
}

/** A function call in an answer; the host saves the merged `tool_call` events in this shape. */
export interface ToolCall {
  index?: number;
  id: string | null;
  name: string | null;
  arguments: string | null;
}

/** A message as the chat page shows it: from the API, a share snapshot, or made locally. */
export interface ChatMessage {
  id: number | string;
  role: string;
  content: string | MessagePart[];
  text?: string;
  model?: string | null;
  status?: string;
  error?: string | null;
  /** Stable code of `error`, translated by `localizeError`. */
  error_code?: string | null;
  reasoning?: string | null;
  sources?: SearchSource[] | null;
  tool_calls?: ToolCall[] | null;
  output_tokens?: number;
  points?: number | string;
  subscription?: boolean;
  created_at?: string;
}

export interface Conversation extends ConversationSummary {
  messages: ChatMessage[];
  before?: number | null;
}

export interface Share {
  id: string;
  title: string;
  model: string;
  messages: ChatMessage[];
  created_at: string;
}

export interface UploadedFile {
  id: string;
  name: string;
  type: string;
  kind: string;
  size: number;
  chars: number;
  tokens: number;
  pages: number | null;
  warnings: string[];
  text_preview: string;
  truncated: boolean;
  created_at: string;
}
