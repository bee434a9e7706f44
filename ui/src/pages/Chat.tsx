import { lazy, Suspense, useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { Link, useLocation, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { useTranslation } from "react-i18next";
import { useVirtualizer } from "@tanstack/react-virtual";
import { LogIn, Share2, X } from "lucide-react";
import { api, ApiError } from "@/api/client";
import { chat } from "@/api/endpoints";
import type { AnonymousTurn, ChatMessage, SearchSource, SendMessageBody, ToolCall, UploadedFile } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Alert } from "@/components/ui/card";
import { Composer } from "@/components/chat/Composer";
import { MessageItem, messageText, Sources, ToolCalls, type MessageAction } from "@/components/chat/MessageItem";
import { Markdown } from "@/markdown/Markdown";
import { useAuth } from "@/lib/auth";
import {
  mergeToolCall, postStream, resumeMessage, sendAnonymous, sendMessage, stopPath,
  type ChatEvent, type StreamResult,
} from "@/lib/chatStream";
import { reloadConversations } from "@/lib/conversations";
import { allowsAnonymous, useMarket } from "@/lib/market";
import { getPreferences, requestParameters } from "@/lib/prefs";
import { describeError } from "@/api/errors";

const ShareDialog = lazy(() => import("@/components/chat/ShareDialog"));
const AlternativesDialog = lazy(() => import("@/components/chat/AlternativesDialog"));

interface LiveAnswer {
  text: string;
  reasoning: string;
  sources: SearchSource[];
  toolCalls: ToolCall[];
  notices: string[];
  error: string | null;
  messageId: string | null;
  usage: { tokens: number | null; points: string | null; subscription: boolean } | null;
}

const EMPTY_LIVE: LiveAnswer = {
  text: "",
  reasoning: "",
  sources: [],
  toolCalls: [],
  notices: [],
  error: null,
  messageId: null,
  usage: null,
};

function LiveMessage({ live, index }: { live: LiveAnswer; index: number }) {
  const { t } = useTranslation();
  return (
    <div data-testid="message" data-role="assistant" data-index={index} data-streaming="true" className="px-3 py-3">
      {live.reasoning && (
        <details className="mb-2 text-xs text-muted-foreground" open>
          <summary>{t("chat.reasoning")}</summary>
          <div className="whitespace-pre-wrap">{live.reasoning}</div>
        </details>
      )}
      {live.notices.map((notice, position) => (
        <div key={position} className="mb-2 text-xs text-amber-600" data-testid="notice">
          {notice}
        </div>
      ))}
      {live.text ? (
        <Markdown text={live.text} className="text-sm" />
      ) : (
        !live.error && (
          <div className="animate-pulse text-sm text-muted-foreground" data-testid="message-content">
            {t("chat.thinking")}
          </div>
        )
      )}
      <ToolCalls calls={live.toolCalls} />
      <Sources sources={live.sources} />
      {live.usage?.tokens && (
        <div className="mt-1 text-xs text-muted-foreground" data-testid="message-usage">
          {live.usage.subscription
            ? t("message.usageSubscription", { tokens: live.usage.tokens })
            : t("message.usage", { tokens: live.usage.tokens, points: live.usage.points ?? "0" })}
        </div>
      )}
      {live.error && (
        <div className="mt-2 rounded-md border border-destructive/50 px-3 py-2 text-sm text-destructive" data-testid="message-error">
          {live.error}
        </div>
      )}
    </div>
  );
}

/** Convert a logged-out visitor's page-only history into the turns of the anonymous chat route. */
function anonymousTurns(messages: ChatMessage[]): AnonymousTurn[] {
  return messages.flatMap((message) => {
    const content = messageText(message);
    if (!content || (message.role !== "user" && message.role !== "assistant")) return [];
    return [{ role: message.role, content }];
  });
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/markdown;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function ChatPage() {
  const { t } = useTranslation();
  const { id: routeId } = useParams();
  const [searchParams] = useSearchParams();
  const navigate = useNavigate();
  const location = useLocation();
  const { user } = useAuth();
  const { models: market } = useMarket();

  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [title, setTitle] = useState("");
  // Id of the oldest loaded message while older ones exist (the API pages from the end).
  const [before, setBefore] = useState<number | null>(null);
  const [live, setLive] = useState<LiveAnswer | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [draft, setDraft] = useState(() => searchParams.get("q") ?? "");
  const [selecting, setSelecting] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [shareOpen, setShareOpen] = useState(false);
  const [alternativesOf, setAlternativesOf] = useState<string | null>(null);
  // Why a logged-out visitor must sign in (a model that is not open to guests, or attachments),
  // shown above the composer with a sign-in link.
  const [signInReason, setSignInReason] = useState<{ model: string } | "attachments" | null>(null);

  const liveRef = useRef<LiveAnswer>(EMPTY_LIVE);
  const frame = useRef(0);
  const abort = useRef<AbortController | null>(null);
  const conversationId = useRef<string | null>(routeId ?? null);
  const scroller = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);

  const flush = useCallback(() => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => setLive({ ...liveRef.current }));
  }, []);

  const onEvent = useCallback(
    (event: ChatEvent) => {
      const current = liveRef.current;
      switch (event.type) {
        case "session":
          current.messageId = event.key || current.messageId;
          break;
        case "tool_call":
          current.toolCalls = mergeToolCall(current.toolCalls, event.call);
          break;
        case "conversation":
          current.messageId = event.messageId ?? current.messageId;
          if (event.conversationId && conversationId.current !== event.conversationId) {
            conversationId.current = event.conversationId;
            window.history.replaceState(window.history.state, "", `/chat/${event.conversationId}`);
            void reloadConversations();
          }
          break;
        case "delta":
          current.text += event.text;
          break;
        case "reasoning":
          current.reasoning += event.text;
          break;
        case "search_results":
          current.sources = event.sources;
          break;
        case "notice":
          current.notices = [...current.notices, event.message];
          break;
        case "error":
          current.error = event.message;
          break;
        case "usage":
          current.usage = { tokens: event.tokens, points: event.points, subscription: event.subscription };
          break;
        default:
          break;
      }
      flush();
    },
    [flush],
  );

  const loadConversation = useCallback(async (id: string) => {
    const conversation = await chat.conversation(id);
    setTitle(conversation.title);
    setBefore(conversation.before ?? null);
    const last = conversation.messages.at(-1);
    const generating = last?.role === "assistant" && (last.status === "streaming" || last.status === "pending");
    setMessages(generating ? conversation.messages.slice(0, -1) : conversation.messages);
    return generating ? last : null;
  }, []);

  // Run one streaming request; afterwards the stored conversation is reloaded from the server.
  const runStream = useCallback(
    async (start: (signal: AbortSignal) => Promise<StreamResult>, initial: Partial<LiveAnswer> = {}) => {
      const controller = new AbortController();
      abort.current = controller;
      liveRef.current = { ...EMPTY_LIVE, ...initial };
      setLive({ ...liveRef.current });
      stickToBottom.current = true;
      try {
        await start(controller.signal);
      } catch (error) {
        if (!controller.signal.aborted) {
          liveRef.current.error = describeError(error);
          flush();
        }
      }
      abort.current = null;
      cancelAnimationFrame(frame.current);
      const finished = { ...liveRef.current };
      const id = conversationId.current;
      if (user && id) {
        try {
          // A stored error carries its code, which the message view translates.
          await loadConversation(id);
          setLive(null);
          return;
        } catch {
          // Fall through and keep the local copy.
        }
      }
      setMessages((items) => [
        ...items,
        {
          id: finished.messageId ?? `local-${Date.now()}`,
          role: "assistant",
          content: finished.text,
          error: finished.error,
          reasoning: finished.reasoning || null,
          sources: finished.sources,
          tool_calls: finished.toolCalls,
        },
      ]);
      setLive(null);
    },
    [flush, loadConversation, user],
  );

  // Load the conversation of the route, and follow a reply that is still being generated.
  useEffect(() => {
    if (abort.current && conversationId.current === routeId) return;
    abort.current?.abort();
    conversationId.current = routeId ?? null;
    setMessages([]);
    setLive(null);
    setTitle("");
    setBefore(null);
    setLoadError(null);
    setSelecting(false);
    if (!routeId) return;
    let cancelled = false;
    loadConversation(routeId)
      .then((generating) => {
        if (cancelled || !generating) return;
        void runStream((signal) => resumeMessage(String(generating.id), null, onEvent, signal), {
          messageId: String(generating.id),
        });
      })
      .catch((error: unknown) => !cancelled && setLoadError(describeError(error)));
    return () => {
      cancelled = true;
    };
  }, [routeId, location.key, loadConversation, runStream, onEvent]);

  // A logged-out visitor chats on free anonymous models only; the conversation lives in this page.
  // Returns false when nothing was sent, so the composer keeps the attachments.
  const sendAnonymously = (text: string, files: UploadedFile[], images: string[]): boolean => {
    const prefs = getPreferences();
    const model = market.find((item) => item.model === prefs.model);
    if (!prefs.model || !allowsAnonymous(model)) {
      setSignInReason({ model: model?.name || prefs.model || "" });
      return false;
    }
    if (files.length > 0 || images.length > 0) {
      setSignInReason("attachments");
      return false;
    }
    setSignInReason(null);
    const turns = [...anonymousTurns(messages), { role: "user" as const, content: text }];
    setMessages((items) => [
      ...items,
      { id: `local-user-${Date.now()}`, role: "user", content: [{ type: "text", text }] },
    ]);
    setDraft("");
    const body = { messages: turns, model: prefs.model, preferences: requestParameters(prefs) };
    void runStream(async (signal) => {
      try {
        return await sendAnonymous(body, onEvent, signal);
      } catch (error) {
        // The price changed since the market was loaded: ask the visitor to sign in.
        if (error instanceof ApiError && error.code === "login_required") setSignInReason({ model: model?.name || body.model });
        throw error;
      }
    });
    return true;
  };

  const send = (text: string, files: UploadedFile[], images: string[] = []): boolean => {
    if (!user) return sendAnonymously(text, files, images);
    const prefs = getPreferences();
    const localUser: ChatMessage = {
      id: `local-user-${Date.now()}`,
      role: "user",
      content: [
        { type: "text", text },
        ...files.map((file) => ({ type: "file", file_id: file.id, name: file.name })),
        ...images.map((_, index) => ({ type: "image", name: `image-${index + 1}` })),
      ],
    };
    setMessages((items) => [...items, localUser]);
    setDraft("");
    const presetId = Number(searchParams.get("preset"));
    const body: SendMessageBody = {
      text,
      file_ids: files.map((file) => file.id),
      images,
      model: prefs.model ?? "",
      search: prefs.search,
      preset_id: !conversationId.current && Number.isInteger(presetId) && presetId > 0 ? presetId : null,
      preferences: requestParameters(prefs),
    };
    void runStream((signal) => sendMessage(conversationId.current ?? "new", body, onEvent, signal));
    return true;
  };

  const stop = async () => {
    const messageId = liveRef.current.messageId;
    if (messageId) {
      // The server saves the partial reply and ends the stream with `done`.
      await api.post(stopPath(messageId)).catch(() => abort.current?.abort());
      setTimeout(() => abort.current?.abort(), 5000);
    } else {
      abort.current?.abort();
    }
  };

  const onAction = useCallback(
    async (action: MessageAction, message: ChatMessage) => {
      const text = messageText(message);
      const id = String(message.id);
      const params = requestParameters(getPreferences());
      switch (action) {
        case "copy":
          await navigator.clipboard?.writeText(text);
          break;
        case "use":
          setDraft(text);
          break;
        case "save":
          download(`message-${id}.md`, text);
          break;
        case "delete":
          setMessages((items) => items.filter((item) => item.id !== message.id));
          try {
            await chat.deleteMessage(id);
          } catch {
            if (conversationId.current) await loadConversation(conversationId.current);
          }
          break;
        case "alternatives":
          setAlternativesOf(id);
          break;
        case "fork": {
          if (!conversationId.current) break;
          const fork = await chat.fork(conversationId.current, id);
          await reloadConversations();
          navigate(`/chat/${fork.id}`);
          break;
        }
        case "regenerate":
          setMessages((items) => items.filter((item) => item.id !== message.id));
          void runStream((signal) =>
            postStream(
              `/api/messages/${id}/regenerate`,
              { text: "", regenerate: true, model: getPreferences().model, preferences: params },
              onEvent,
              signal,
            ),
          );
          break;
        case "continue":
          // The continuation arrives as a new assistant message after this one.
          void runStream((signal) => postStream(`/api/messages/${id}/continue`, {}, onEvent, signal));
          break;
      }
    },
    [loadConversation, navigate, onEvent, runStream],
  );

  const onEdit = useCallback(
    async (message: ChatMessage, text: string, regenerate: boolean) => {
      if (!regenerate) {
        await chat.editMessage(String(message.id), text);
        if (conversationId.current) await loadConversation(conversationId.current);
        return;
      }
      // The host hides the replies after the edited message and generates a new one, so show the
      // new text and drop those replies now. runStream reloads the stored conversation afterwards.
      setMessages((items) => {
        const position = items.findIndex((item) => item.id === message.id);
        if (position < 0) return items;
        const edited = items[position];
        const parts = typeof edited.content === "string" ? [] : edited.content.filter((part) => part.type !== "text");
        return [...items.slice(0, position), { ...edited, content: [{ type: "text", text }, ...parts], text }];
      });
      const body = { text, regenerate: true, model: getPreferences().model, preferences: requestParameters(getPreferences()) };
      void runStream((signal) => postStream(`/api/messages/${message.id}`, body, onEvent, signal, "PATCH"));
    },
    [loadConversation, onEvent, runStream],
  );

  const loadEarlier = async () => {
    const id = conversationId.current;
    if (!id || before === null) return;
    stickToBottom.current = false;
    const page = await chat.olderMessages(id, before);
    setMessages((items) => [...page.messages, ...items]);
    setBefore(page.before ?? null);
  };

  const toggleSelect = useCallback((id: string) => {
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }, []);

  const virtualizer = useVirtualizer({
    count: messages.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 120,
    overscan: 8,
  });

  // Keep the newest content in view while the user has not scrolled up.
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && stickToBottom.current) element.scrollTop = element.scrollHeight;
  }, [messages, live]);

  const onScroll = () => {
    const element = scroller.current;
    if (!element) return;
    stickToBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80;
  };

  const streaming = live !== null && abort.current !== null;
  const lastIndex = messages.length - 1;
  const canShare = Boolean(user && conversationId.current && messages.length > 0);

  return (
    <div className="flex h-full flex-col">
      <div className="flex h-12 shrink-0 items-center gap-2 border-b border-border px-3">
        <h1 className="min-w-0 flex-1 truncate text-sm font-medium" data-testid="chat-title">
          {title || t("chat.newChat")}
        </h1>
        {selecting ? (
          <>
            <span className="text-xs text-muted-foreground">{t("share.selected", { count: selected.size })}</span>
            <Button size="sm" variant="outline" onClick={() => setSelecting(false)}>
              {t("common.cancel")}
            </Button>
            <Button size="sm" disabled={selected.size === 0} onClick={() => setShareOpen(true)} data-testid="share-create">
              {t("share.create")}
            </Button>
          </>
        ) : (
          canShare && (
            <Button
              size="sm"
              variant="ghost"
              data-testid="share-button"
              onClick={() => {
                setSelected(new Set(messages.map((item) => String(item.id))));
                setSelecting(true);
              }}
            >
              <Share2 className="h-4 w-4" /> {t("share.share")}
            </Button>
          )
        )}
      </div>
      <div ref={scroller} onScroll={onScroll} className="min-h-0 flex-1 overflow-y-auto" data-testid="message-list">
        <div className="mx-auto w-full max-w-3xl">
          {messages.length === 0 && !live && (
            <div className="px-6 py-16 text-center text-muted-foreground">
              <p className="text-2xl font-semibold text-foreground">{t("chat.welcomeTitle")}</p>
              <p className="mt-2 text-sm">{user ? t("chat.welcomeText") : t("chat.welcomeAnonymous")}</p>
            </div>
          )}
          {loadError && <p className="p-4 text-sm text-destructive">{loadError}</p>}
          {before !== null && (
            <div className="py-2 text-center">
              <Button variant="ghost" size="sm" onClick={() => void loadEarlier()} data-testid="load-earlier">
                {t("chat.loadEarlier")}
              </Button>
            </div>
          )}
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {virtualizer.getVirtualItems().map((row) => {
              const message = messages[row.index];
              return (
                <div
                  key={String(message.id)}
                  data-index={row.index}
                  ref={virtualizer.measureElement}
                  style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${row.start}px)` }}
                >
                  <MessageItem
                    message={message}
                    index={row.index}
                    isLast={row.index === lastIndex}
                    busy={streaming}
                    selecting={selecting}
                    selected={selected.has(String(message.id))}
                    onToggleSelect={toggleSelect}
                    onAction={user ? onAction : undefined}
                    onEdit={onEdit}
                  />
                </div>
              );
            })}
          </div>
          {live && <LiveMessage live={live} index={messages.length} />}
        </div>
      </div>
      {!user && signInReason !== null && (
        <div className="mx-auto w-full max-w-3xl px-3 pb-2">
          <Alert className="flex items-center gap-2 border-amber-500/50" data-testid="sign-in-required">
            <span className="min-w-0 flex-1">
              {signInReason === "attachments"
                ? t("chat.signInForAttachments")
                : signInReason.model
                  ? t("chat.signInForModel", { model: signInReason.model })
                  : t("chat.signInToChat")}
            </span>
            <Button asChild size="sm">
              <Link to={`/login?next=${encodeURIComponent(location.pathname)}`}>
                <LogIn className="h-4 w-4" /> {t("auth.signIn")}
              </Link>
            </Button>
            <Button variant="ghost" size="icon" className="h-7 w-7" aria-label={t("common.close")} onClick={() => setSignInReason(null)}>
              <X className="h-4 w-4" />
            </Button>
          </Alert>
        </div>
      )}
      <Composer value={draft} onChange={setDraft} onSend={send} onStop={() => void stop()} streaming={streaming} />
      {alternativesOf && (
        <Suspense fallback={null}>
          <AlternativesDialog messageId={alternativesOf} onClose={() => setAlternativesOf(null)} />
        </Suspense>
      )}
      {shareOpen && conversationId.current && (
        <Suspense fallback={null}>
          <ShareDialog
            conversationId={conversationId.current}
            messages={messages.filter((item) => selected.has(String(item.id)))}
            onClose={() => {
              setShareOpen(false);
              setSelecting(false);
            }}
          />
        </Suspense>
      )}
    </div>
  );
}
