import { useEffect, useMemo } from "react";
import { useTranslation } from "react-i18next";
import { ChevronDown } from "lucide-react";
import type { MarketModel } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Badge } from "@/components/ui/card";
import { DropdownMenu, DropdownMenuContent, DropdownMenuItem, DropdownMenuTrigger } from "@/components/ui/dropdown-menu";
import { useAuth } from "@/lib/auth";
import { allowsAnonymous, useMarket } from "@/lib/market";
import { setPreferences, usePreferences } from "@/lib/prefs";

export function PriceLabel({ model }: { model: MarketModel }) {
  const { t } = useTranslation();
  const price = model.price;
  if (!price || price.type === "none") return <span>{t("market.free")}</span>;
  if (price.type === "times") return <span>{t("market.perRequest", { points: price.input })}</span>;
  return <span>{t("market.perToken", { input: price.input ?? 0, output: price.output ?? 0 })}</span>;
}

/** The model picker: pinned models first (or the market's defaults on a first visit). */
export function ModelPicker() {
  const { t } = useTranslation();
  const prefs = usePreferences();
  const { models } = useMarket();
  const { user } = useAuth();

  const shown = useMemo(() => {
    const pinned = models.filter((model) => prefs.pinnedModels.includes(model.model));
    if (pinned.length > 0) return pinned;
    const defaults = models.filter((model) => model.default);
    return defaults.length > 0 ? defaults : models;
  }, [models, prefs.pinnedModels]);

  useEffect(() => {
    if (shown.length > 0 && !shown.some((model) => model.model === prefs.model)) setPreferences({ model: shown[0].model });
  }, [shown, prefs.model]);

  const current = models.find((model) => model.model === prefs.model);
  return (
    <DropdownMenu>
      <DropdownMenuTrigger asChild>
        <Button variant="ghost" size="sm" className="max-w-full" data-testid="model-picker">
          <span className="truncate">{current?.name ?? prefs.model ?? t("chat.chooseModel")}</span>
          <ChevronDown className="h-3 w-3" />
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="start" className="max-h-80 w-72 overflow-y-auto">
        {shown.map((model) => (
          <DropdownMenuItem key={model.id} onSelect={() => setPreferences({ model: model.model })} className="flex-col items-start">
            <div className="flex w-full items-center gap-2">
              <span className="truncate font-medium">{model.name}</span>
              {model.plus && <Badge className="border-amber-500 text-amber-600">{t("market.plus")}</Badge>}
              {!user && !allowsAnonymous(model) && (
                <Badge data-testid="sign-in-badge">{t("market.signInRequired")}</Badge>
              )}
            </div>
            <div className="flex flex-wrap gap-1 text-xs text-muted-foreground">
              <PriceLabel model={model} />
              {model.tags?.map((tag) => (
                <Badge key={tag}>{tag}</Badge>
              ))}
            </div>
          </DropdownMenuItem>
        ))}
        {shown.length === 0 && <p className="p-2 text-sm text-muted-foreground">{t("market.empty")}</p>}
      </DropdownMenuContent>
    </DropdownMenu>
  );
}
