// The model market, loaded once per page and shared by the picker and the market page.
import { useEffect, useState } from "react";
import { itemsOf, site } from "@/api/endpoints";
import type { MarketModel } from "@/api/types";

let cache: Promise<MarketModel[]> | null = null;

export function loadMarket(force = false): Promise<MarketModel[]> {
  if (!cache || force) {
    cache = site
      .market()
      .then((value) => itemsOf<MarketModel>(value))
      .catch((error) => {
        cache = null;
        throw error;
      });
  }
  return cache;
}

export function useMarket(): { models: MarketModel[]; error: string | null } {
  const [models, setModels] = useState<MarketModel[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    loadMarket()
      .then(setModels)
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)));
  }, []);
  return { models, error };
}
