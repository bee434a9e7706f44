import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Pin, PinOff } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Badge, Card } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { PriceLabel } from "@/components/chat/ModelPicker";
import { useMarket } from "@/lib/market";
import { setPreferences, usePreferences } from "@/lib/prefs";
import { PageShell } from "./Account";

/** The model market: browse models and pin them to the chat's model picker. */
export default function MarketPage() {
  const { t } = useTranslation();
  const { models, error } = useMarket();
  const prefs = usePreferences();
  const [query, setQuery] = useState("");
  const needle = query.trim().toLowerCase();
  const shown = models.filter(
    (model) =>
      !needle ||
      model.name.toLowerCase().includes(needle) ||
      model.model.toLowerCase().includes(needle) ||
      model.tags?.some((tag) => tag.toLowerCase().includes(needle)),
  );

  const togglePin = (id: string) => {
    const pinned = prefs.pinnedModels.includes(id)
      ? prefs.pinnedModels.filter((other) => other !== id)
      : [...prefs.pinnedModels, id];
    setPreferences({ pinnedModels: pinned });
  };

  return (
    <PageShell title={t("market.title")}>
      <Input type="search" placeholder={t("market.search")} aria-label={t("market.search")} value={query} onChange={(event) => setQuery(event.target.value)} />
      {error && <p className="text-sm text-destructive">{error}</p>}
      <div className="grid gap-3 sm:grid-cols-2">
        {shown.map((model) => {
          const pinned = prefs.pinnedModels.includes(model.model);
          return (
            <Card key={model.id} className="flex gap-3 p-4">
              <div className="min-w-0 flex-1">
                <div className="flex items-center gap-2">
                  <span className="truncate font-medium">{model.name}</span>
                  {model.plus && <Badge className="border-amber-500 text-amber-600">{t("market.plus")}</Badge>}
                  {model.high_context && <Badge>{t("market.highContext")}</Badge>}
                </div>
                <div className="font-mono text-xs text-muted-foreground">{model.model}</div>
                {model.description && <p className="mt-1 text-sm text-muted-foreground">{model.description}</p>}
                <div className="mt-2 flex flex-wrap gap-1 text-xs">
                  <PriceLabel model={model} />
                  {model.tags?.map((tag) => (
                    <Badge key={tag}>{tag}</Badge>
                  ))}
                </div>
              </div>
              <Button
                variant={pinned ? "secondary" : "ghost"}
                size="icon"
                aria-pressed={pinned}
                aria-label={pinned ? t("market.unpin") : t("market.pin")}
                title={pinned ? t("market.unpin") : t("market.pin")}
                onClick={() => togglePin(model.model)}
              >
                {pinned ? <PinOff className="h-4 w-4" /> : <Pin className="h-4 w-4" />}
              </Button>
            </Card>
          );
        })}
      </div>
      {shown.length === 0 && !error && <p className="text-sm text-muted-foreground">{t("market.empty")}</p>}
    </PageShell>
  );
}
