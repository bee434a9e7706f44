import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { Link, Navigate, Route, Routes } from "react-router-dom";
import { useTranslation } from "react-i18next";
import { billing, itemsOf, keys, shares } from "@/api/endpoints";
import type { ApiKey, ApiKeyCreated, Balance, LedgerEntry, Plan, ShareSummary, SubscriptionState } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Alert, Badge, Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Dialog, DialogContent } from "@/components/ui/dialog";
import { Input, Label } from "@/components/ui/input";
import { Switch } from "@/components/ui/switch";
import { useAuth } from "@/lib/auth";
import { useSite } from "@/lib/site";
import { describeError } from "@/api/errors";

function errorText(error: unknown): string {
  return describeError(error);
}

export function PageShell({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto grid max-w-3xl gap-4 p-4">
        <h1 className="text-xl font-semibold">{title}</h1>
        {children}
      </div>
    </div>
  );
}

function formatDate(value: string | null | undefined, language: string): string {
  if (!value) return "";
  return new Date(value).toLocaleString(language, { timeZoneName: "short" });
}

/** Shows a newly created or rolled key once, with a copy button; it cannot be shown again. */
function NewKeyDialog({ apiKey, onClose }: { apiKey: ApiKeyCreated | null; onClose: () => void }) {
  const { t } = useTranslation();
  const [copied, setCopied] = useState(false);
  return (
    <Dialog open={apiKey !== null} onOpenChange={(open) => !open && (setCopied(false), onClose())}>
      <DialogContent title={t("keys.newKeyTitle")} description={t("keys.newKeyDescription")}>
        <div className="flex gap-2">
          <Input readOnly value={apiKey?.key ?? ""} data-testid="new-key" className="font-mono" aria-label={t("keys.key")} />
          <Button
            onClick={() => {
              void navigator.clipboard?.writeText(apiKey?.key ?? "");
              setCopied(true);
            }}
          >
            {copied ? t("common.copied") : t("common.copy")}
          </Button>
        </div>
      </DialogContent>
    </Dialog>
  );
}

function KeysPage() {
  const { t, i18n } = useTranslation();
  const [items, setItems] = useState<ApiKey[]>([]);
  const [name, setName] = useState("");
  const [shown, setShown] = useState<ApiKeyCreated | null>(null);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(() => {
    keys
      .list()
      .then(setItems)
      .catch((caught: unknown) => setError(errorText(caught)));
  }, []);
  useEffect(reload, [reload]);

  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(errorText(caught));
    }
    reload();
  };

  const create = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      setShown(await keys.create(name.trim() || t("keys.defaultName")));
      setName("");
    });
  };

  return (
    <PageShell title={t("keys.title")}>
      <form className="flex gap-2" onSubmit={create}>
        <Input placeholder={t("keys.name")} aria-label={t("keys.name")} value={name} onChange={(event) => setName(event.target.value)} />
        <Button type="submit" data-testid="create-key">
          {t("keys.create")}
        </Button>
      </form>
      {error && <Alert className="border-destructive/50 text-destructive">{error}</Alert>}
      <div className="grid gap-2">
        {items.map((item) => (
          <Card key={item.id} className="flex flex-wrap items-center gap-3 p-3">
            <div className="min-w-0 flex-1">
              <div className="font-medium">{item.name}</div>
              <div className="font-mono text-xs text-muted-foreground">{item.masked_key}</div>
              {item.expires_at && (
                <div className="text-xs text-muted-foreground">{t("keys.expires", { date: formatDate(item.expires_at, i18n.language) })}</div>
              )}
            </div>
            <Switch
              checked={item.enabled}
              aria-label={t("keys.enabled")}
              onCheckedChange={(enabled) => void run(() => keys.update(item.id, { enabled }))}
            />
            <Button size="sm" variant="outline" onClick={() => void run(async () => setShown(await keys.roll(item.id)))}>
              {t("keys.roll")}
            </Button>
            <Button
              size="sm"
              variant="destructive"
              onClick={() => window.confirm(t("keys.confirmDelete")) && void run(() => keys.remove(item.id))}
            >
              {t("common.delete")}
            </Button>
          </Card>
        ))}
        {items.length === 0 && <p className="text-sm text-muted-foreground">{t("keys.empty")}</p>}
      </div>
      <NewKeyDialog apiKey={shown} onClose={() => setShown(null)} />
    </PageShell>
  );
}

function CodeForm({ label, onSubmit }: { label: string; onSubmit: (code: string) => Promise<unknown> }) {
  const { t } = useTranslation();
  const [code, setCode] = useState("");
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await onSubmit(code.trim());
      setMessage({ ok: true, text: t("wallet.codeAccepted") });
      setCode("");
    } catch (caught) {
      setMessage({ ok: false, text: errorText(caught) });
    }
  };
  return (
    <form className="grid gap-2" onSubmit={submit}>
      <Label htmlFor={label}>{label}</Label>
      <div className="flex gap-2">
        <Input id={label} value={code} onChange={(event) => setCode(event.target.value)} required />
        <Button type="submit">{t("wallet.apply")}</Button>
      </div>
      {message && <p className={message.ok ? "text-sm text-green-600" : "text-sm text-destructive"}>{message.text}</p>}
    </form>
  );
}

/** Add the buyer's username to the card-key shop link, which the shop reads from `?username=<name>`. */
function buyUrl(link: string, username: string | undefined): string {
  const url = new URL(link);
  if (username) url.searchParams.set("username", username);
  return url.toString();
}

function WalletPage() {
  const { t, i18n } = useTranslation();
  const [balance, setBalance] = useState<Balance | null>(null);
  const [ledger, setLedger] = useState<LedgerEntry[]>([]);
  const [nextPage, setNextPage] = useState<number | null>(null);
  const info = useSite();
  const { user } = useAuth();
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(() => {
    billing.balance().then(setBalance).catch((caught: unknown) => setError(errorText(caught)));
    billing
      .ledger()
      .then((page) => {
        setLedger(page.items);
        setNextPage(page.total > page.page * page.size ? page.page + 1 : null);
      })
      .catch(() => undefined);
  }, []);
  useEffect(reload, [reload]);
  const more = async () => {
    if (!nextPage) return;
    const page = await billing.ledger(nextPage);
    setLedger((items) => [...items, ...page.items]);
    setNextPage(page.total > page.page * page.size ? page.page + 1 : null);
  };

  return (
    <PageShell title={t("wallet.title")}>
      {error && <Alert className="border-destructive/50 text-destructive">{error}</Alert>}
      <Card>
        <CardHeader>
          <CardDescription>{t("wallet.balance")}</CardDescription>
          <CardTitle className="text-3xl" data-testid="balance">
            {balance ? t("wallet.points", { points: String(balance.available) }) : "…"}
          </CardTitle>
        </CardHeader>
        {info?.buy_link && /^https?:\/\//i.test(info.buy_link) && (
          <CardContent>
            <Button asChild variant="outline">
              <a href={buyUrl(info.buy_link, user?.username)} target="_blank" rel="noopener noreferrer">
                {t("wallet.buy")}
              </a>
            </Button>
          </CardContent>
        )}
      </Card>
      <Card className="grid gap-4 p-5 sm:grid-cols-2">
        <CodeForm label={t("wallet.redeem")} onSubmit={(code) => billing.redeem(code).then(reload)} />
        <CodeForm label={t("wallet.gift")} onSubmit={(code) => billing.gift(code).then(reload)} />
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>{t("wallet.ledger")}</CardTitle>
        </CardHeader>
        <CardContent className="overflow-x-auto">
          <table className="w-full text-sm">
            <thead className="text-left text-muted-foreground">
              <tr>
                <th className="py-1 pr-3">{t("wallet.time")}</th>
                <th className="py-1 pr-3">{t("wallet.kind")}</th>
                <th className="py-1 pr-3 text-right">{t("wallet.change")}</th>
                <th className="py-1">{t("wallet.reason")}</th>
              </tr>
            </thead>
            <tbody>
              {ledger.map((entry) => (
                <tr key={entry.id} className="border-t border-border">
                  <td className="py-1 pr-3 whitespace-nowrap">{formatDate(entry.created_at, i18n.language)}</td>
                  <td className="py-1 pr-3">{t(`ledgerKinds.${entry.kind}`, { defaultValue: entry.kind })}</td>
                  <td className="py-1 pr-3 text-right tabular-nums">{String(entry.delta)}</td>
                  <td className="py-1">{entry.note}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {ledger.length === 0 && <p className="py-2 text-sm text-muted-foreground">{t("wallet.empty")}</p>}
          {nextPage && (
            <Button variant="ghost" size="sm" onClick={() => void more()}>
              {t("common.loadMore")}
            </Button>
          )}
        </CardContent>
      </Card>
    </PageShell>
  );
}

const LEVEL_NAMES: Record<number, string> = { 0: "levels.none", 1: "levels.basic", 2: "levels.standard", 3: "levels.pro" };

function SubscriptionPage() {
  const { t, i18n } = useTranslation();
  const [plans, setPlans] = useState<Plan[]>([]);
  const [state, setState] = useState<SubscriptionState | null>(null);
  const [months, setMonths] = useState(1);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  const reload = useCallback(() => {
    billing.plans().then((value) => setPlans(itemsOf<Plan>(value))).catch(() => undefined);
    billing.subscription().then(setState).catch(() => undefined);
  }, []);
  useEffect(reload, [reload]);

  const buy = async (level: number) => {
    setMessage(null);
    try {
      setState((await billing.buy(level, months)).subscription);
      setMessage({ ok: true, text: t("subscription.bought") });
    } catch (caught) {
      setMessage({ ok: false, text: errorText(caught) });
    }
  };

  const currentLevel = state?.level ?? 0;
  return (
    <PageShell title={t("subscription.title")}>
      <Card className="p-5">
        <div className="text-sm text-muted-foreground">{t("subscription.current")}</div>
        <div className="text-lg font-semibold">{t(LEVEL_NAMES[currentLevel] ?? "levels.none")}</div>
        {state?.expires_at && (
          <div className="text-sm text-muted-foreground">{t("subscription.expires", { date: formatDate(state.expires_at, i18n.language) })}</div>
        )}
        {state?.usage && (
          <ul className="mt-2 text-sm">
            {Object.entries(state.usage).map(([item, usage]) => (
              <li key={item}>
                {item}: {usage.total < 0 ? t("subscription.usageUnlimited", { used: usage.used }) : t("subscription.usage", usage)}
              </li>
            ))}
          </ul>
        )}
      </Card>
      <div className="flex items-center gap-2">
        <Label htmlFor="months">{t("subscription.months")}</Label>
        <Input
          id="months"
          type="number"
          min={1}
          max={36}
          className="w-24"
          value={months}
          onChange={(event) => setMonths(Math.max(1, Number(event.target.value) || 1))}
        />
      </div>
      {message && <Alert className={message.ok ? "" : "border-destructive/50 text-destructive"}>{message.text}</Alert>}
      <div className="grid gap-3 sm:grid-cols-3">
        {plans.map((plan) => (
          <Card key={plan.level} className="flex flex-col">
            <CardHeader>
              <CardTitle>{t(LEVEL_NAMES[plan.level] ?? "levels.none")}</CardTitle>
              <CardDescription>{t("subscription.price", { price: String(plan.price) })}</CardDescription>
            </CardHeader>
            <CardContent className="flex flex-1 flex-col gap-2">
              <ul className="flex-1 space-y-1 text-sm">
                {(plan.items ?? []).map((item) => (
                  <li key={item.id}>
                    {item.name}{" "}
                    <Badge>{item.monthly_quota < 0 ? t("subscription.unlimited") : t("subscription.quota", { count: item.monthly_quota })}</Badge>
                  </li>
                ))}
              </ul>
              <Button onClick={() => void buy(plan.level)} variant={plan.level === currentLevel ? "outline" : "default"}>
                {plan.level === currentLevel
                  ? t("subscription.renew")
                  : plan.level > currentLevel
                    ? currentLevel > 0
                      ? t("subscription.upgrade")
                      : t("subscription.buy")
                    : t("subscription.downgrade")}
              </Button>
            </CardContent>
          </Card>
        ))}
        {plans.length === 0 && <p className="text-sm text-muted-foreground">{t("subscription.none")}</p>}
      </div>
    </PageShell>
  );
}

function SharesPage() {
  const { t, i18n } = useTranslation();
  const [items, setItems] = useState<ShareSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(() => {
    shares
      .list()
      .then(setItems)
      .catch((caught: unknown) => setError(errorText(caught)));
  }, []);
  useEffect(reload, [reload]);

  return (
    <PageShell title={t("shares.title")}>
      {error && <Alert className="border-destructive/50 text-destructive">{error}</Alert>}
      {items.map((share) => (
        <Card key={share.id} className="flex flex-wrap items-center gap-3 p-3">
          <div className="min-w-0 flex-1">
            <Link className="font-medium underline" to={`/share/${share.id}`}>
              {share.title || share.id}
            </Link>
            <div className="text-xs text-muted-foreground">{formatDate(share.created_at, i18n.language)}</div>
          </div>
          <Button size="sm" variant="outline" onClick={() => void navigator.clipboard?.writeText(`${window.location.origin}/share/${share.id}`)}>
            {t("share.copyLink")}
          </Button>
          <Button
            size="sm"
            variant="destructive"
            onClick={() => window.confirm(t("shares.confirmDelete")) && void shares.remove(share.id).then(reload)}
          >
            {t("common.delete")}
          </Button>
        </Card>
      ))}
      {items.length === 0 && !error && <p className="text-sm text-muted-foreground">{t("shares.empty")}</p>}
    </PageShell>
  );
}

export default function AccountPages() {
  return (
    <Routes>
      <Route path="keys" element={<KeysPage />} />
      <Route path="wallet" element={<WalletPage />} />
      <Route path="subscription" element={<SubscriptionPage />} />
      <Route path="shares" element={<SharesPage />} />
      <Route path="*" element={<Navigate to="wallet" replace />} />
    </Routes>
  );
}
