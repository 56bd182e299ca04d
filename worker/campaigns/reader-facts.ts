/**
 * The facts about a reader that conditions can test (core/conditions.ts), from what the open's ranking read
 * (worker/recs/recommend.ts): present only when the reader's data may be used at all (a verified token, not
 * erased, personalization allowed); otherwise every reader fact is unknown and tests on it fail. The categories
 * a reader bought from are the items' categories as the open sees them (liveCategories: the live catalog's over
 * the model's), the ones the block's item rules exclude, boost and cap by.
 */
import { decayedEngagement } from "../../core/apply-events";
import type { Campaign } from "../../core/campaign";
import type { CatalogItem } from "../../core/catalog";
import type { Facts } from "../../core/conditions";
import type { ModelOutputs, Profile } from "../../core/profile";
import { type LiveCatalogView, overlayOf } from "../catalog/live-catalog";

const DAY = 86400;

export interface ReaderView {
  profile: Profile;
  outputs: ModelOutputs;
}

/** An item's category as opens show it: the live catalog's, else the model catalog's (`lookup`). */
export function liveCategories(
  lookup: (id: string) => CatalogItem | undefined,
  live: LiveCatalogView,
): (id: string) => string | undefined {
  return (id) => overlayOf(live, id)?.category ?? lookup(id)?.category;
}

export function readerFacts(
  reader: ReaderView | undefined,
  campaign: Campaign,
  categoryOf: (item: string) => string | undefined,
  now: number,
): Facts {
  if (!reader) return {};
  const { profile, outputs } = reader;
  const nowS = Math.floor(now / 1000);
  const score = decayedEngagement(profile.engagement.score, profile.engagement.at, nowS);
  const bands = campaign.engagementBands;
  const lastPurchase = Math.max(profile.rfm.lastPurchaseTs ?? 0, profile.purchases[0]?.lastTs ?? 0);
  const categories = new Set<string>();
  for (const p of profile.purchases) {
    const category = categoryOf(p.item);
    if (category) categories.add(category);
  }
  return {
    segment: outputs.segment?.name ?? null,
    engagement: score >= bands.high ? "high" : score >= bands.low ? "medium" : "low",
    engagementScore: score,
    propensity: outputs.propensity,
    buyWithin7d: outputs.buyWithin7d,
    daysSinceLastPurchase: lastPurchase > 0 ? Math.max(0, (nowS - lastPurchase) / DAY) : null,
    purchases: profile.purchases.reduce((sum, p) => sum + p.invoices, 0),
    orderValue: profile.rfm.monetary,
    boughtCategories: [...categories],
    topics: profile.consent.topics,
  };
}
