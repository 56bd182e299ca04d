/** Runs one fitted recommender over a split's test users: `all`, `novel` (own train items excluded) and `cold`. */
import { rowIndices } from "../data/sparse";
import type { TemporalSplit } from "../data/temporal-split";
import { evaluateRankings, type RankingMetrics } from "./ranking-metrics";
import { type Recommender, recommend } from "./recommender-contract";

export const K = 10;
/** test users with at most this many distinct train items form the `cold` subgroup (scored like `all`) */
export const COLD_MAX_ITEMS = 3;

export type Variant = "all" | "novel" | "cold";

export interface ProtocolMetrics {
  ndcg_at_10: number;
  /** the standard error of `ndcg_at_10` over the users (their sample sd / sqrt(users)) */
  ndcg_at_10_se: number;
  precision_at_10: number;
  recall_at_10: number;
  map_at_10: number;
  hit_rate_at_10: number;
  coverage: number;
  users: number;
}

/** The users behind a result: their rows in the split (the relevant map's order) and each one's NDCG@10. */
export interface PerUser {
  users: Int32Array;
  ndcg: Float64Array;
}

/**
 * Each result's users, kept beside the result rather than in it: the report's JSON stays one number per metric.
 * Two recommenders judged on one split and variant list the same users in the same order.
 */
const perUser = new WeakMap<ProtocolMetrics, PerUser>();

/** The users' NDCG@10 behind a result of evaluateVariant, or null for a result made elsewhere. */
export function ndcgPerUser(m: ProtocolMetrics): PerUser | null {
  return perUser.get(m) ?? null;
}

function toProtocol(m: RankingMetrics, users: Int32Array): ProtocolMetrics {
  const out: ProtocolMetrics = {
    ndcg_at_10: m.ndcg_at_k,
    ndcg_at_10_se: standardError(m.ndcg_per_user),
    precision_at_10: m.precision_at_k,
    recall_at_10: m.recall_at_k,
    map_at_10: m.map_at_k,
    hit_rate_at_10: m.hit_rate_at_k,
    coverage: m.coverage,
    users: m.users,
  };
  perUser.set(out, { users, ndcg: m.ndcg_per_user });
  return out;
}

/** NaN (the report's "n/a") below two users: one user's figure says nothing of its spread. */
export function standardError(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += (xs[i] as number) / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ((xs[i] as number) - mean) ** 2;
  return Math.sqrt(ss / (n - 1) / n);
}

/** What scoring needs of a split: the train matrix (exclusions, cold users) and the relevant items per user. */
export type JudgedSplit = Pick<TemporalSplit, "train" | "testAll" | "testNovel">;

export function evaluateVariant(
  split: JudgedSplit,
  variant: Variant,
  rank: (user: number, exclude: ReadonlySet<number> | undefined) => number[],
): ProtocolMetrics {
  const relevant =
    variant === "novel"
      ? split.testNovel
      : variant === "cold"
        ? new Map([...split.testAll].filter(([u]) => rowIndices(split.train, u).length <= COLD_MAX_ITEMS))
        : split.testAll;
  const rankings = new Map<number, number[]>();
  for (const u of relevant.keys()) {
    const exclude = variant === "novel" ? new Set(rowIndices(split.train, u)) : undefined;
    rankings.set(u, rank(u, exclude));
  }
  return toProtocol(evaluateRankings(rankings, relevant, K, split.train.cols), Int32Array.from(relevant.keys()));
}

export function evaluateModel(
  split: JudgedSplit,
  model: Recommender,
  variants: readonly Variant[] = ["all", "novel", "cold"],
) {
  const out: Partial<Record<Variant, ProtocolMetrics>> = {};
  for (const v of variants) out[v] = evaluateVariant(split, v, (u, ex) => recommend(model, u, K, ex));
  return out;
}
