// The model market, loaded once per page and shared by the picker and the market page.
import { useEffect, useState } from "react";
import { itemsOf, site } from "@/api/endpoints";
import type { MarketModel } from "@/api/types";
import { describeError } from "@/api/errors";

let cache: Promise<MarketModel[]> | null = null;

/** Return whether a logged-out visitor may use `model`, which needs a free price marked anonymous. */
export function allowsAnonymous(model: MarketModel | undefined): boolean {
  return model?.price?.type === "none" && Boolean(model.price.anonymous);
}

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
      .catch((caught: unknown) => setError(describeError(caught)));
  }, []);
  return { models, error };
}
