/**
 * Picks the items for one amp-list request: token -> model -> profile -> ONNX top-k -> exclusions.
 * Never throws: every failure degrades to generic (popular) content and names its reason, which the
 * route sends in `X-Opentime-Reason`. A token that does not verify never reaches personal data.
 */

import { base64ToFloat32 } from "../../core/base64";
import type { CatalogItem } from "../../core/catalog";
import { verifyToken } from "../../core/token";
import type { Config } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import { getFallbackItems, getModel, type LoadedModel } from "../model/model-store";
import { readProfile } from "../profile/profile-store";

export interface Recommendation {
  items: CatalogItem[];
  /** `personalized`, or why generic content was served */
  reason: string;
  modelVersion: string | null;
}

export interface RecommendInput {
  kv: KVNamespace;
  config: Config;
  token: string | undefined;
  n: number;
  /** unix milliseconds */
  now?: number;
}

const DAY_SECONDS = 86400;

export async function recommend(input: RecommendInput): Promise<Recommendation> {
  const { kv, config, n } = input;
  const now = input.now ?? Date.now();
  const modelState = await getModel(kv, config.modelRefreshSeconds, now);
  const generic = async (reason: string, exclude: ReadonlySet<string> = new Set()): Promise<Recommendation> => {
    const catalog = modelState.ok ? modelState.model.catalog : modelState.catalog;
    const version = modelState.ok ? modelState.model.manifest.version : (modelState.version ?? null);
    if (catalog) {
      const items = catalog.popular
        .map((i) => catalog.items[i])
        .filter((it): it is CatalogItem => !!it && !exclude.has(it.id))
        .slice(0, n);
      return { items, reason, modelVersion: version };
    }
    const fallback = await getFallbackItems(kv);
    return {
      items: fallback?.items.slice(0, n) ?? [],
      reason: fallback ? reason : `${reason}+no-fallback`,
      modelVersion: null,
    };
  };

  const token = await verifyToken(config.tokenSecrets, input.token, Math.floor(now / 1000));
  if (!token.ok) return generic(`token-${token.reason}`);
  if (!modelState.ok) return generic(modelState.reason);
  const model = modelState.model;

  const profile = await readProfile(kv, token.claims.u);
  if (!profile.ok) return generic(profile.reason);
  const exclude = recentPurchases(profile.profile.recentPurchases, config.excludePurchasedDays, now);
  const factors = profile.profile.factors;
  if (!factors || factors.model !== model.manifest.version) return generic("profile-no-factors-for-model", exclude);

  try {
    const vector = base64ToFloat32(factors.vector);
    if (vector.length !== model.manifest.dims) return generic("profile-factor-dims", exclude);
    const items = await personalize(model, vector, n, exclude);
    return { items, reason: "personalized", modelVersion: model.manifest.version };
  } catch (e) {
    logEvent("error", "recs.scoring_failed", { version: model.manifest.version, detail: errorMessage(e) });
    return generic("scoring-error", exclude);
  }
}

function recentPurchases(purchases: readonly { item: string; ts: number }[], days: number, now: number): Set<string> {
  const since = now / 1000 - days * DAY_SECONDS;
  return new Set(days > 0 ? purchases.filter((p) => p.ts >= since).map((p) => p.item) : []);
}

async function personalize(model: LoadedModel, vector: Float32Array, n: number, exclude: ReadonlySet<string>) {
  const excludedInModel = [...exclude].filter((id) => model.itemIndex.has(id)).length;
  const k = Math.min(model.manifest.itemCount, n + excludedInModel);
  const { indices } = await model.session.topK(vector, k);
  const items: CatalogItem[] = [];
  for (const i of indices) {
    const item = model.catalog.items[i];
    if (item && !exclude.has(item.id)) items.push(item);
    if (items.length === n) break;
  }
  return items;
}
