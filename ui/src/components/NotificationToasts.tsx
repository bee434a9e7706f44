import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Bell, X } from "lucide-react";
import { site } from "@/api/endpoints";
import type { Announcement } from "@/api/types";
import { Markdown } from "@/markdown/Markdown";

const SEEN_KEY = "notifications-seen";
/** Ids remembered as seen; the host returns only the ten newest notifications. */
const MAX_SEEN = 50;
/** At most this many toasts at once, the newest first. */
const MAX_SHOWN = 3;
const POLL_MS = 5 * 60 * 1000;
const TOAST_MS = 15 * 1000;

function readSeen(): number[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(SEEN_KEY) ?? "[]");
    return Array.isArray(value) ? value.filter((id): id is number => typeof id === "number") : [];
  } catch {
    return [];
  }
}

function markSeen(ids: number[]): void {
  const seen = [...ids, ...readSeen().filter((id) => !ids.includes(id))].slice(0, MAX_SEEN);
  try {
    localStorage.setItem(SEEN_KEY, JSON.stringify(seen));
  } catch {
    // Storage unavailable: the notifications may show again on the next visit.
  }
}

/** Show each new notification (GET /api/notifications) once as a toast; checks again every 5 minutes. */
export function NotificationToasts() {
  const { t } = useTranslation();
  const [toasts, setToasts] = useState<Announcement[]>([]);

  const dismiss = useCallback((id: number) => setToasts((items) => items.filter((item) => item.id !== id)), []);

  useEffect(() => {
    const check = () => {
      if (document.visibilityState === "hidden") return;
      site
        .notifications()
        .then((notifications) => {
          const seen = readSeen();
          const fresh = notifications.filter((item) => !seen.includes(item.id)).slice(0, MAX_SHOWN);
          if (fresh.length === 0) return;
          // Every new id counts as shown, also those beyond MAX_SHOWN, so none turns up later.
          markSeen(notifications.filter((item) => !seen.includes(item.id)).map((item) => item.id));
          setToasts((items) => [...fresh, ...items].slice(0, MAX_SHOWN));
          for (const item of fresh) setTimeout(() => dismiss(item.id), TOAST_MS);
        })
        .catch((error: unknown) => console.warn("Loading the notifications failed:", error));
    };
    check();
    const timer = setInterval(check, POLL_MS);
    return () => clearInterval(timer);
  }, [dismiss]);

  if (toasts.length === 0) return null;
  return (
    <div className="pointer-events-none fixed right-4 top-4 z-50 flex w-80 max-w-[calc(100vw-2rem)] flex-col gap-2">
      {toasts.map((toast) => (
        <div
          key={toast.id}
          role="status"
          data-testid="notification-toast"
          className="pointer-events-auto rounded-lg border border-border bg-background p-3 text-sm shadow-lg"
        >
          <div className="flex items-start gap-2">
            <Bell className="mt-0.5 h-4 w-4 shrink-0 text-muted-foreground" />
            <div className="min-w-0 flex-1">
              <div className="font-medium">{toast.title || t("notifications.title")}</div>
              <Markdown text={toast.content} className="text-xs" />
            </div>
            <button
              type="button"
              className="rounded-sm opacity-70 hover:opacity-100"
              aria-label={t("common.close")}
              onClick={() => dismiss(toast.id)}
            >
              <X className="h-4 w-4" />
            </button>
          </div>
        </div>
      ))}
    </div>
  );
}
