// The public site settings (GET /api/site), loaded once per page and shared by every component.
// The last answer is kept in localStorage so the site name and logo show before the request ends.
import { useEffect, useSyncExternalStore } from "react";
import { site } from "@/api/endpoints";
import type { SiteInfo } from "@/api/types";

const STORAGE_KEY = "site-info";
const listeners = new Set<() => void>();
let current: SiteInfo | null = readStored();
let pending: Promise<void> | null = null;

function readStored(): SiteInfo | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as SiteInfo) : null;
  } catch {
    return null;
  }
}

function store(info: SiteInfo): void {
  current = info;
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(info));
  } catch {
    // Storage unavailable: the settings then last for this page only.
  }
  listeners.forEach((listener) => listener());
}

/** Fetch the site settings (once per page unless `force`); failures keep the stored copy. */
export function loadSite(force = false): Promise<void> {
  if (!pending || force) {
    pending = site
      .info()
      .then(store)
      .catch((error: unknown) => {
        pending = null;
        console.warn("Loading the site settings failed:", error);
      });
  }
  return pending;
}

/** Return the site settings, or null before the first answer on this browser. */
export function useSite(): SiteInfo | null {
  useEffect(() => {
    void loadSite();
  }, []);
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => current,
  );
}

/** Keep document.title equal to the site name. */
export function useDocumentTitle(): void {
  const info = useSite();
  useEffect(() => {
    if (info?.site_name) document.title = info.site_name;
  }, [info?.site_name]);
}
