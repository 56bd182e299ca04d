/** Ranking metrics at K over users (binary relevance): precision, recall, NDCG, MAP, hit rate, coverage. */

export interface RankingMetrics {
  precision_at_k: number;
  recall_at_k: number;
  ndcg_at_k: number;
  map_at_k: number;
  hit_rate_at_k: number;
  coverage: number;
  users: number;
  /** each user's NDCG@k, in the relevant map's order (what a paired comparison of two rankers resamples) */
  ndcg_per_user: Float64Array;
}

/** Metrics of one ranked list against a relevant set. */
export function userMetrics(ranked: readonly number[], relevant: ReadonlySet<number>, k: number) {
  let hits = 0;
  let dcg = 0;
  let apSum = 0;
  const top = ranked.slice(0, k);
  top.forEach((item, i) => {
    if (relevant.has(item)) {
      hits++;
      dcg += 1 / Math.log2(i + 2);
      apSum += hits / (i + 1);
    }
  });
  const ideal = Math.min(k, relevant.size);
  let idcg = 0;
  for (let i = 0; i < ideal; i++) idcg += 1 / Math.log2(i + 2);
  return {
    precision: hits / k,
    recall: relevant.size ? hits / relevant.size : 0,
    ndcg: idcg ? dcg / idcg : 0,
    ap: ideal ? apSum / ideal : 0,
    hit: hits > 0 ? 1 : 0,
  };
}

/** Means over users; `candidateItems` is the denominator of coverage. */
export function evaluateRankings(
  rankings: ReadonlyMap<number, readonly number[]>,
  relevant: ReadonlyMap<number, ReadonlySet<number>>,
  k: number,
  candidateItems: number,
): RankingMetrics {
  let p = 0;
  let r = 0;
  let n = 0;
  let m = 0;
  let h = 0;
  let users = 0;
  const shown = new Set<number>();
  const perUser = new Float64Array(relevant.size);
  for (const [user, rel] of relevant) {
    const ranked = rankings.get(user) ?? [];
    const um = userMetrics(ranked, rel, k);
    for (const item of ranked.slice(0, k)) shown.add(item);
    p += um.precision;
    r += um.recall;
    n += um.ndcg;
    perUser[users] = um.ndcg;
    m += um.ap;
    h += um.hit;
    users++;
  }
  const d = Math.max(1, users);
  return {
    precision_at_k: p / d,
    recall_at_k: r / d,
    ndcg_at_k: n / d,
    map_at_k: m / d,
    hit_rate_at_k: h / d,
    coverage: candidateItems ? shown.size / candidateItems : 0,
    users,
    ndcg_per_user: perUser,
  };
}
