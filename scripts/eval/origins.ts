/**
 * Several evaluation origins: the same protocol at cutoffs T, T - testDays, T - 2 testDays, ... each with its
 * own validation split (the window before it), and what every recommender scored on each, summarised as mean,
 * sample standard deviation and range. The recommender that serves a mode at an origin is the one its own
 * validation chose (`served`); the baselines are the suite's.
 */
import { ndcgPerUser, type ProtocolMetrics, type Variant } from "../ranking/evaluate-recommender";
import { leadInterval, type PairedCutoff } from "./lead-interval";
import type { RecommenderSuite, VariantMetrics } from "./recommender-suite";

/** The suite's baselines: what a learned model has to beat. */
export const BASELINES = [
  "popularity",
  "repeat",
  "item_knn",
  "ease",
  "rp3beta",
  "own_then_ease",
  "als",
  "own_then_als",
] as const;

export interface Spread {
  mean: number;
  sd: number;
  min: number;
  max: number;
  /** per origin, oldest first */
  values: number[];
}

/** The served recommender's metrics at one origin: per variant, the one its validation chose. */
export function servedMetrics(suite: RecommenderSuite): VariantMetrics {
  const c = suite.tuning.ranker.chosen;
  const pick = (v: Variant, mode: "all" | "novel") => suite.recommenders[c[mode]]?.[v] ?? null;
  return { all: pick("all", "all"), novel: pick("novel", "novel"), cold: pick("cold", "all") };
}

export function spread(values: number[]): Spread {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), values };
}

/**
 * NDCG@10 per recommender and variant across origins (oldest first), the best baseline and the served model's lead;
 * `customers[k]` names origin k's users (its split's ids), which the lead's interval resamples.
 */
export function summarizeOrigins(perOrigin: Record<string, VariantMetrics>[], customers: (readonly string[])[]) {
  const names = Object.keys(perOrigin[0] ?? {});
  const ndcg: Record<string, Partial<Record<Variant, Spread>>> = {};
  for (const name of names) {
    const entry: Partial<Record<Variant, Spread>> = {};
    for (const v of ["all", "novel", "cold"] as const) {
      const xs = perOrigin.map((o) => o[name]?.[v]?.ndcg_at_10);
      if (xs.every((x): x is number => typeof x === "number")) entry[v] = spread(xs);
    }
    ndcg[name] = entry;
  }
  const lead = {} as Record<
    "all" | "novel",
    {
      best_baseline: string;
      baseline_mean: number;
      served_mean: number;
      ratio: number;
      /**
       * the ratio's 95% interval, its readers resampled in pairs within each cutoff (scripts/eval/lead-interval.ts);
       * null where the per-reader figures are not at hand
       */
      interval_95: [number, number] | null;
    }
  >;
  for (const v of ["all", "novel"] as const) {
    let best = { name: "", mean: Number.NEGATIVE_INFINITY };
    for (const b of BASELINES) {
      const m = ndcg[b]?.[v]?.mean;
      if (m !== undefined && m > best.mean) best = { name: b, mean: m };
    }
    const served = ndcg.served?.[v]?.mean ?? 0;
    lead[v] = {
      best_baseline: best.name,
      baseline_mean: best.mean,
      served_mean: served,
      ratio: served / best.mean,
      interval_95: pairedInterval(perOrigin, customers, best.name, v),
    };
  }
  return { ndcg_at_10: ndcg, lead };
}

/**
 * The lead's interval from each cutoff's per-user NDCG@10 of `served` and `baseline`: null if any is missing, if
 * the two did not judge the same users in the same order, or if a cutoff tested nobody.
 */
function pairedInterval(
  perOrigin: Record<string, VariantMetrics>[],
  customers: (readonly string[])[],
  baseline: string,
  v: "all" | "novel",
): [number, number] | null {
  const users = (m: ProtocolMetrics | null | undefined) => (m ? ndcgPerUser(m) : null);
  const cutoffs: PairedCutoff[] = [];
  for (const [k, o] of perOrigin.entries()) {
    const s = users(o.served?.[v]);
    const b = users(o[baseline]?.[v]);
    const ids = customers[k];
    if (!s || !b || !ids || s.users.length === 0 || !sameUsers(s.users, b.users)) return null;
    cutoffs.push({ customers: Array.from(s.users, (u) => ids[u] as string), served: s.ndcg, baseline: b.ndcg });
  }
  return leadInterval(cutoffs);
}

function sameUsers(a: Int32Array, b: Int32Array): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}
