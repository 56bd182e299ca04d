/**
 * The bandit mode's allocation (Thompson sampling in expectation): each arm's share of new readers is the
 * posterior probability that its rate is the highest, under Beta(1 + successes, 1 + failures) posteriors,
 * with a floor per arm so that no arm starves and the comparison stays measurable. The probabilities are
 * integrals, P(i best) = integral of f_i(x) times the product of F_j(x) over the other arms, computed by
 * Simpson's rule over the central range of arm i's posterior: deterministic, so the shares are the same at
 * every edge until the next update (the cadence is the caller's: the daily aggregates). Pure.
 */
import betaCdf from "@stdlib/stats-base-dists-beta-cdf";
import betaPdf from "@stdlib/stats-base-dists-beta-pdf";
import betaQuantile from "@stdlib/stats-base-dists-beta-quantile";

export interface BanditArm {
  /** readers exposed */
  trials: number;
  /** of them, those who clicked (or bought: the bandit's goal) */
  successes: number;
}

/**
 * Simpson's rule intervals per piece (even). Arm i's range is cut at every other arm's range ends, so a
 * posterior far narrower than arm i's (a million trials against none) is not stepped over: within 1e-6 of
 * scipy's adaptive quadrature (test/golden).
 */
const INTERVALS = 400;
/** The posterior mass left outside the integration range, at each end. */
const TAIL = 1e-12;

const posterior = (a: BanditArm): [number, number] => {
  const s = Math.max(0, Math.min(a.successes, a.trials));
  return [1 + s, 1 + Math.max(0, a.trials - s)];
};

/** P(arm i has the highest rate), for each arm; they sum to 1 (to integration error). */
export function probabilityBest(arms: readonly BanditArm[]): number[] {
  for (const a of arms) {
    if (!(Number.isFinite(a.trials) && Number.isFinite(a.successes) && a.trials >= 0 && a.successes >= 0))
      throw new RangeError("trials and successes must be finite and non-negative");
  }
  if (arms.length < 2) return arms.map(() => 1);
  const params = arms.map(posterior);
  const ranges = params.map(([a, b]) => [betaQuantile(TAIL, a, b), betaQuantile(1 - TAIL, a, b)] as const);
  return params.map(([a, b], i) => {
    const [lo, hi] = ranges[i] as readonly [number, number];
    const inside = ranges.flat().filter((x) => x > lo && x < hi);
    const cuts = [lo, hi, ...inside].sort((x, y) => x - y);
    const integrand = (x: number) => {
      let value = betaPdf(x, a, b);
      for (const [j, [aj, bj]] of params.entries()) if (j !== i && value > 0) value *= betaCdf(x, aj, bj);
      return value;
    };
    let total = 0;
    for (let p = 0; p + 1 < cuts.length; p++) {
      const from = cuts[p] as number;
      const h = ((cuts[p + 1] as number) - from) / INTERVALS;
      if (!(h > 0)) continue;
      let sum = 0;
      for (let k = 0; k <= INTERVALS; k++)
        sum += integrand(from + k * h) * (k === 0 || k === INTERVALS ? 1 : k % 2 === 1 ? 4 : 2);
      total += (sum * h) / 3;
    }
    return total;
  });
}

/**
 * Each arm's share of new readers: its probability of being best, over what the floors leave. `floor` is the
 * least share per arm (0 <= floor <= 1 / arms).
 */
export function banditShares(arms: readonly BanditArm[], floor: number): number[] {
  if (arms.length === 0) return [];
  if (!(floor >= 0 && floor * arms.length <= 1)) throw new RangeError(`a floor of ${floor} for ${arms.length} arms`);
  const best = probabilityBest(arms);
  const total = best.reduce((s, p) => s + p, 0);
  const free = 1 - floor * arms.length;
  return best.map((p) => floor + (free * p) / total);
}

/**
 * `weights` as shares summing to `total`, none under `floor`: arms the weights put under it are raised to it
 * and the others give up that share in proportion to their weights (the bandit's weights read between two
 * updates, after a variant was added or the floor raised: worker/experiments/experiment-store.ts). Needs
 * floor x arms <= total.
 */
export function floorShares(weights: readonly number[], floor: number, total = 1): number[] {
  const raised = new Set<number>();
  for (;;) {
    const free = weights.reduce((s, w, i) => (raised.has(i) ? s : s + w), 0);
    const left = total - floor * raised.size;
    const shares = weights.map((w, i) => (raised.has(i) ? floor : (left * w) / free));
    const under = shares.flatMap((s, i) => (!raised.has(i) && s < floor ? [i] : []));
    if (under.length === 0) return shares;
    for (const i of under) raised.add(i);
  }
}
