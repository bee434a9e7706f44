import { useEffect, useRef, useState } from "react";
import { Link, NavLink, useNavigate, useParams } from "react-router-dom";
import { useTranslation } from "react-i18next";
import {
  Bot, CreditCard, KeyRound, LogIn, LogOut, MoreHorizontal, Pencil, Plus, Settings, Share2, Store, Trash2, Wallet,
} from "lucide-react";
import { chat } from "@/api/endpoints";
import type { ConversationSummary } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import {
  DropdownMenu, DropdownMenuContent, DropdownMenuItem, DropdownMenuSeparator, DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { useAuth } from "@/lib/auth";
import {
  clearConversations, loadMoreConversations, patchConversation, reloadConversations, removeConversation, useConversations,
} from "@/lib/conversations";
import { useSubmitKey } from "@/lib/useSubmitKey";
import { cn } from "@/lib/utils";
import { LanguageSelect, ThemeSwitch } from "./ThemeLanguage";
import { SiteBrand, SiteFooter } from "./SiteBrand";

function RenameInput({ item, onDone }: { item: ConversationSummary; onDone: () => void }) {
  const { t } = useTranslation();
  const [value, setValue] = useState(item.title);
  const save = async (title: string) => {
    const trimmed = title.trim();
    if (trimmed && trimmed !== item.title) {
      patchConversation(String(item.id), { title: trimmed });
      await chat.rename(String(item.id), trimmed).catch(() => reloadConversations());
    }
    onDone();
  };
  const keys = useSubmitKey((text) => void save(text));
  return (
    <Input
      autoFocus
      aria-label={t("sidebar.rename")}
      data-testid="rename-input"
      value={value}
      onChange={(event) => setValue(event.target.value)}
      onBlur={() => onDone()}
      onKeyUp={(event) => event.key === "Escape" && onDone()}
      {...keys}
      className="h-8"
    />
  );
}

function ConversationItem({ item, active }: { item: ConversationSummary; active: boolean }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [renaming, setRenaming] = useState(false);
  const id = String(item.id);

  const remove = async () => {
    if (!window.confirm(t("sidebar.confirmDelete"))) return;
    removeConversation(id);
    await chat.remove(id).catch(() => reloadConversations());
    if (active) navigate("/");
  };

  if (renaming) return <RenameInput item={item} onDone={() => setRenaming(false)} />;
  return (
    <div
      data-testid="conversation-item"
      className={cn("group flex items-center rounded-md text-sm hover:bg-accent", active && "bg-accent font-medium")}
    >
      <Link to={`/chat/${id}`} className="min-w-0 flex-1 truncate px-2 py-2" title={item.title}>
        {item.title || t("chat.untitled")}
      </Link>
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button variant="ghost" size="icon" className="h-7 w-7 opacity-60 group-hover:opacity-100" aria-label={t("sidebar.actions")}>
            <MoreHorizontal className="h-4 w-4" />
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="end">
          <DropdownMenuItem onSelect={() => setRenaming(true)}>
            <Pencil className="h-4 w-4" /> {t("sidebar.rename")}
          </DropdownMenuItem>
          <DropdownMenuItem onSelect={() => void remove()} className="text-destructive">
            <Trash2 className="h-4 w-4" /> {t("common.delete")}
          </DropdownMenuItem>
        </DropdownMenuContent>
      </DropdownMenu>
    </div>
  );
}

const NAV = [
  { to: "/market", icon: Store, label: "nav.market" },
  { to: "/presets", icon: Bot, label: "nav.presets" },
  { to: "/account/shares", icon: Share2, label: "nav.shares" },
  { to: "/account/wallet", icon: Wallet, label: "nav.wallet" },
  { to: "/account/subscription", icon: CreditCard, label: "nav.subscription" },
  { to: "/account/keys", icon: KeyRound, label: "nav.keys" },
  { to: "/settings", icon: Settings, label: "nav.settings" },
] as const;

export function Sidebar() {
  const { t } = useTranslation();
  const { user, signOut } = useAuth();
  const { id: activeId } = useParams();
  const navigate = useNavigate();
  const conversations = useConversations();
  const [search, setSearch] = useState(conversations.query);
  const debounce = useRef<ReturnType<typeof setTimeout>>(undefined);

  useEffect(() => {
    if (user) void reloadConversations();
    else clearConversations();
  }, [user]);

  const onSearch = (value: string) => {
    setSearch(value);
    clearTimeout(debounce.current);
    debounce.current = setTimeout(() => void reloadConversations(value), 300);
  };

  const deleteAll = async () => {
    if (!window.confirm(t("sidebar.confirmDeleteAll"))) return;
    await chat.removeAll();
    clearConversations();
    navigate("/");
  };

  return (
    <div className="flex h-full min-h-0 flex-col gap-2 p-3">
      <div className="flex items-center justify-between">
        <Link to="/" className="min-w-0 truncate text-lg font-semibold">
          <SiteBrand />
        </Link>
        <ThemeSwitch />
      </div>
      <Button asChild className="w-full" data-testid="new-chat">
        <Link to="/">
          <Plus className="h-4 w-4" /> {t("chat.newChat")}
        </Link>
      </Button>
      {user && (
        <>
          <Input
            type="search"
            placeholder={t("sidebar.search")}
            aria-label={t("sidebar.search")}
            value={search}
            onChange={(event) => onSearch(event.target.value)}
          />
          <nav className="min-h-0 flex-1 space-y-0.5 overflow-y-auto" aria-label={t("sidebar.conversations")}>
            {conversations.items.map((item) => (
              <ConversationItem key={item.id} item={item} active={String(item.id) === activeId} />
            ))}
            {!conversations.loading && conversations.items.length === 0 && (
              <p className="px-2 py-4 text-sm text-muted-foreground">{t("sidebar.empty")}</p>
            )}
            {conversations.error && <p className="px-2 text-sm text-destructive">{conversations.error}</p>}
            {conversations.nextPage && (
              <Button variant="ghost" size="sm" className="w-full" onClick={() => void loadMoreConversations()}>
                {t("common.loadMore")}
              </Button>
            )}
          </nav>
        </>
      )}
      {!user && <div className="flex-1" />}
      <nav className="space-y-0.5 border-t border-border pt-2" aria-label={t("nav.menu")}>
        {NAV.map(({ to, icon: Icon, label }) => (
          <NavLink
            key={to}
            to={to}
            className={({ isActive }) =>
              cn("flex items-center gap-2 rounded-md px-2 py-1.5 text-sm hover:bg-accent", isActive && "bg-accent")
            }
          >
            <Icon className="h-4 w-4" /> {t(label)}
          </NavLink>
        ))}
      </nav>
      <div className="flex items-center justify-between gap-2 border-t border-border pt-2">
        <LanguageSelect />
        {user ? (
          <DropdownMenu>
            <DropdownMenuTrigger asChild>
              <Button variant="ghost" size="sm" className="max-w-36 truncate" data-testid="user-menu">
                {user.username}
              </Button>
            </DropdownMenuTrigger>
            <DropdownMenuContent align="end">
              <DropdownMenuItem onSelect={() => void deleteAll()} className="text-destructive">
                <Trash2 className="h-4 w-4" /> {t("sidebar.deleteAll")}
              </DropdownMenuItem>
              <DropdownMenuSeparator />
              <DropdownMenuItem onSelect={() => void signOut().then(() => navigate("/login"))}>
                <LogOut className="h-4 w-4" /> {t("auth.signOut")}
              </DropdownMenuItem>
            </DropdownMenuContent>
          </DropdownMenu>
        ) : (
          <Button asChild variant="outline" size="sm">
            <Link to="/login">
              <LogIn className="h-4 w-4" /> {t("auth.signIn")}
            </Link>
          </Button>
        )}
      </div>
      <SiteFooter />
    </div>
  );
}
