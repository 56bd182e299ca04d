/**
 * Builds v2 profiles (core/profile.ts) at the end of a training run: purchase history per item,
 * ALS and content vectors for the model version, segment, send time and purchase propensity.
 */
import { bytesToBase64, float32ToBase64 } from "../../core/base64";
import {
  emptyProfile,
  MAX_PURCHASE_HISTORY,
  newestFirst,
  type Profile,
  type PurchaseSummary,
} from "../../core/profile";
import { bestHours } from "../../core/send-time";
import type { PurchaseLog } from "../data/purchase-log";

/** Per customer (index into log.customerIds): distinct invoices and last purchase per item, newest first. */
export function purchaseSummaries(log: PurchaseLog): Map<number, PurchaseSummary[]> {
  const acc = new Map<number, Map<number, { invoices: Set<number>; lastTs: number }>>();
  for (let i = 0; i < log.rows; i++) {
    const c = log.customer[i] as number;
    const items = acc.get(c) ?? new Map();
    acc.set(c, items);
    const it = log.item[i] as number;
    const s = items.get(it) ?? { invoices: new Set<number>(), lastTs: 0 };
    items.set(it, s);
    s.invoices.add(log.invoice[i] as number);
    s.lastTs = Math.max(s.lastTs, Math.floor(log.time[i] as number));
  }
  const out = new Map<number, PurchaseSummary[]>();
  for (const [c, items] of acc) {
    out.set(
      c,
      [...items]
        .map(([it, s]) => ({ item: log.itemIds[it] as string, invoices: s.invoices.size, lastTs: s.lastTs }))
        .sort(newestFirst)
        .slice(0, MAX_PURCHASE_HISTORY),
    );
  }
  return out;
}

/** 168 probabilities -> base64 of uint8 scaled so the largest is 255. */
export function encodeHourOfWeek(dist: ArrayLike<number>): string {
  let max = 0;
  for (let h = 0; h < dist.length; h++) max = Math.max(max, dist[h] as number);
  return bytesToBase64(
    Uint8Array.from({ length: dist.length }, (_, h) => (max > 0 ? Math.round(((dist[h] as number) / max) * 255) : 0)),
  );
}

export interface ProfileParts {
  model: string;
  factors?: Float32Array;
  content?: Float32Array;
  purchases?: PurchaseSummary[];
  segment?: { id: number; name: string };
  sendTime?: ArrayLike<number>;
  propensity?: number;
  buyWithin7d?: number;
}

export function buildProfile(userId: string, p: ProfileParts, now = new Date()): Profile {
  const last = p.purchases?.[0]?.lastTs ?? null;
  return {
    ...emptyProfile(userId, now.toISOString()),
    lastActivity: last,
    rfm: { orders: 0, monetary: 0, lastPurchaseTs: last },
    factors: p.factors ? { model: p.model, vector: float32ToBase64(p.factors) } : null,
    contentVector: p.content ? { model: p.model, vector: float32ToBase64(p.content) } : null,
    purchases: p.purchases ?? [],
    segment: p.segment ?? null,
    sendTime: p.sendTime ? { bestHours: bestHours(p.sendTime, 3), hourOfWeek: encodeHourOfWeek(p.sendTime) } : null,
    propensity: p.propensity ?? null,
    buyWithin7d: p.buyWithin7d ?? null,
  };
}
