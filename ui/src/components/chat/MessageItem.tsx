import { memo, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import {
  ArrowDownToLine, Copy, CornerDownLeft, GitFork, History, MoreHorizontal, Pencil, Play, RefreshCw, Trash2, Wrench,
} from "lucide-react";
import { api } from "@/api/client";
import type { ChatMessage, MessagePart, SearchSource, ToolCall } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Textarea } from "@/components/ui/input";
import {
  DropdownMenu, DropdownMenuContent, DropdownMenuItem, DropdownMenuSeparator, DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { Markdown } from "@/markdown/Markdown";
import { isSafeUrl } from "@/markdown/parser";
import { useSubmitKey } from "@/lib/useSubmitKey";
import { cn } from "@/lib/utils";
import { localizeError } from "@/api/errors";

export type MessageAction = "regenerate" | "copy" | "use" | "delete" | "save" | "continue" | "fork" | "alternatives";

/** Return the plain text of a message (its text parts joined). */
export function messageText(message: Pick<ChatMessage, "content" | "text">): string {
  if (typeof message.text === "string") return message.text;
  if (typeof message.content === "string") return message.content;
  return message.content
    .filter((part) => part.type === "text")
    .map((part) => part.text ?? "")
    .join("\n");
}

function attachments(message: ChatMessage): MessagePart[] {
  if (typeof message.content === "string") return [];
  return message.content.filter((part) => part.type !== "text");
}

const fileNames = new Map<string, Promise<string>>();

/** An attached file, named by its upload (stored message parts keep only the file id). */
function FileChip({ part }: { part: MessagePart }) {
  const [name, setName] = useState(part.name ?? "");
  useEffect(() => {
    if (part.name || !part.file_id) return;
    let names = fileNames.get(part.file_id);
    if (!names) {
      names = api.get<{ name: string }>(`/api/files/${encodeURIComponent(part.file_id)}`).then((file) => file.name);
      fileNames.set(part.file_id, names);
    }
    names.then(setName).catch(() => undefined);
  }, [part.file_id, part.name]);
  return <span className="rounded border border-border px-1.5 text-xs">{name || part.type}</span>;
}

function ImagePart({ part }: { part: MessagePart }) {
  const url = part.url ?? "";
  if (!/^(https?:\/\/|data:image\/(png|jpe?g|gif|webp);)/i.test(url)) {
    return <span className="rounded border border-border px-1.5 text-xs">{part.name ?? part.type}</span>;
  }
  return <img src={url} alt={part.name ?? ""} className="max-h-40 rounded-md" referrerPolicy="no-referrer" />;
}

export function Sources({ sources }: { sources: SearchSource[] }) {
  const { t } = useTranslation();
  if (sources.length === 0) return null;
  return (
    <div className="mt-2 rounded-md border border-border p-2 text-xs" data-testid="sources">
      <div className="mb-1 font-medium text-muted-foreground">{t("chat.sources")}</div>
      <ol className="list-decimal space-y-0.5 pl-5">
        {sources.map((source, index) => (
          <li key={index}>
            {isSafeUrl(source.url) && /^https?:/i.test(source.url) ? (
              <a className="underline" href={source.url} target="_blank" rel="noopener noreferrer">
                {source.title || source.url}
              </a>
            ) : (
              <span>{source.title}</span>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
}

/** Pretty-print JSON arguments; anything else (a call still streaming) stays as sent. */
function formatArguments(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** The function calls of an answer, collapsed to their names until opened. */
export function ToolCalls({ calls }: { calls: ToolCall[] | null | undefined }) {
  const { t } = useTranslation();
  if (!calls || calls.length === 0) return null;
  const names = calls.map((call) => call.name || t("message.toolUnnamed")).join(", ");
  return (
    <details className="mt-2 rounded-md border border-border text-xs" data-testid="tool-calls">
      <summary className="flex cursor-pointer items-center gap-1.5 px-2 py-1.5 text-muted-foreground">
        <Wrench className="h-3 w-3" />
        {t("message.toolCalls", { count: calls.length, names })}
      </summary>
      <div className="space-y-2 border-t border-border p-2">
        {calls.map((call, position) => (
          <div key={call.id ?? position} data-testid="tool-call">
            <div className="font-mono font-medium">{call.name || t("message.toolUnnamed")}</div>
            {call.arguments && (
              <pre className="mt-1 overflow-x-auto whitespace-pre-wrap break-all rounded bg-muted p-2 font-mono">
                {formatArguments(call.arguments)}
              </pre>
            )}
          </div>
        ))}
      </div>
    </details>
  );
}

function EditBox({
  initial,
  canRegenerate,
  onSave,
  onCancel,
}: {
  initial: string;
  canRegenerate: boolean;
  onSave: (text: string, regenerate: boolean) => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const [value, setValue] = useState(initial);
  const keys = useSubmitKey((text) => text.trim() && onSave(text, false));
  return (
    <div className="grid gap-2">
      <Textarea
        autoFocus
        data-testid="edit-box"
        aria-label={t("message.edit")}
        value={value}
        onChange={(event) => setValue(event.target.value)}
        {...keys}
      />
      <div className="flex justify-end gap-2">
        <Button size="sm" variant="outline" onClick={onCancel}>
          {t("common.cancel")}
        </Button>
        {canRegenerate && (
          <Button size="sm" variant="outline" onClick={() => onSave(value, true)} disabled={!value.trim()}>
            {t("message.saveAndRegenerate")}
          </Button>
        )}
        <Button size="sm" onClick={() => onSave(value, false)} disabled={!value.trim()}>
          {t("common.save")}
        </Button>
      </div>
    </div>
  );
}

interface MessageItemProps {
  message: ChatMessage;
  index: number;
  isLast: boolean;
  busy: boolean;
  selecting: boolean;
  selected: boolean;
  onToggleSelect?: (id: string) => void;
  onAction?: (action: MessageAction, message: ChatMessage) => void;
  onEdit?: (message: ChatMessage, text: string, regenerate: boolean) => void;
}

export const MessageItem = memo(function MessageItem({
  message, index, isLast, busy, selecting, selected, onToggleSelect, onAction, onEdit,
}: MessageItemProps) {
  const { t } = useTranslation();
  const [editing, setEditing] = useState(false);
  const text = messageText(message);
  const user = message.role === "user";
  const files = attachments(message);

  return (
    <div
      data-testid="message"
      data-role={message.role}
      data-index={index}
      className={cn("group flex gap-2 px-3 py-3", user ? "justify-end" : "justify-start")}
    >
      {selecting && (
        <input
          type="checkbox"
          className="mt-2"
          aria-label={t("share.selectMessage")}
          checked={selected}
          onChange={() => onToggleSelect?.(String(message.id))}
        />
      )}
      <div className={cn("min-w-0 max-w-[85%]", user && "rounded-2xl bg-secondary px-4 py-2", !user && "flex-1")}>
        {!user && message.model && <div className="mb-1 text-xs text-muted-foreground">{message.model}</div>}
        {!user && message.reasoning && (
          <details className="mb-2 text-xs text-muted-foreground">
            <summary>{t("chat.reasoning")}</summary>
            <div className="whitespace-pre-wrap">{message.reasoning}</div>
          </details>
        )}
        {files.length > 0 && (
          <div className="mb-1 flex flex-wrap gap-1">
            {files.map((part, position) =>
              part.type === "image" ? <ImagePart key={position} part={part} /> : <FileChip key={position} part={part} />,
            )}
          </div>
        )}
        {editing ? (
          <EditBox
            initial={text}
            canRegenerate={user}
            onCancel={() => setEditing(false)}
            onSave={(value, regenerate) => {
              setEditing(false);
              onEdit?.(message, value, regenerate);
            }}
          />
        ) : user ? (
          <div className="whitespace-pre-wrap break-words text-sm" data-testid="message-content">
            {text}
          </div>
        ) : (
          <Markdown text={text} className="text-sm" />
        )}
        {!user && <ToolCalls calls={message.tool_calls} />}
        {message.sources && <Sources sources={message.sources} />}
        {!user && Boolean(message.output_tokens) && (
          <div className="mt-1 text-xs text-muted-foreground" data-testid="message-usage">
            {message.subscription
              ? t("message.usageSubscription", { tokens: message.output_tokens })
              : t("message.usage", { tokens: message.output_tokens, points: String(message.points ?? 0) })}
          </div>
        )}
        {message.error && (
          <div className="mt-2 rounded-md border border-destructive/50 px-3 py-2 text-sm text-destructive" data-testid="message-error">
            {localizeError(message.error_code, null, message.error)}
          </div>
        )}
      </div>
      {onAction && !editing && !selecting && (
        <DropdownMenu>
          <DropdownMenuTrigger asChild>
            <Button
              variant="ghost"
              size="icon"
              className="h-7 w-7 shrink-0 opacity-50 group-hover:opacity-100"
              aria-label={t("message.actions")}
              data-testid="message-menu"
            >
              <MoreHorizontal className="h-4 w-4" />
            </Button>
          </DropdownMenuTrigger>
          <DropdownMenuContent align={user ? "end" : "start"}>
            {!user && isLast && (
              <>
                <DropdownMenuItem disabled={busy} onSelect={() => onAction("regenerate", message)}>
                  <RefreshCw className="h-4 w-4" /> {t("message.regenerate")}
                </DropdownMenuItem>
                <DropdownMenuItem disabled={busy} onSelect={() => onAction("continue", message)}>
                  <Play className="h-4 w-4" /> {t("message.continue")}
                </DropdownMenuItem>
                <DropdownMenuItem onSelect={() => onAction("alternatives", message)}>
                  <History className="h-4 w-4" /> {t("message.alternatives")}
                </DropdownMenuItem>
              </>
            )}
            <DropdownMenuItem onSelect={() => onAction("copy", message)}>
              <Copy className="h-4 w-4" /> {t("message.copy")}
            </DropdownMenuItem>
            <DropdownMenuItem onSelect={() => onAction("use", message)}>
              <CornerDownLeft className="h-4 w-4" /> {t("message.useAsInput")}
            </DropdownMenuItem>
            <DropdownMenuItem disabled={busy} onSelect={() => setEditing(true)}>
              <Pencil className="h-4 w-4" /> {t("message.edit")}
            </DropdownMenuItem>
            <DropdownMenuItem onSelect={() => onAction("save", message)}>
              <ArrowDownToLine className="h-4 w-4" /> {t("message.save")}
            </DropdownMenuItem>
            <DropdownMenuItem disabled={busy} onSelect={() => onAction("fork", message)}>
              <GitFork className="h-4 w-4" /> {t("message.fork")}
            </DropdownMenuItem>
            <DropdownMenuSeparator />
            <DropdownMenuItem disabled={busy} className="text-destructive" onSelect={() => onAction("delete", message)}>
              <Trash2 className="h-4 w-4" /> {t("common.delete")}
            </DropdownMenuItem>
          </DropdownMenuContent>
        </DropdownMenu>
      )}
    </div>
  );
});
