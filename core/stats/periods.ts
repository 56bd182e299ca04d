/**
 * Experiment statistics weighted by period, for a bandit whose arms' shares change each period (an hour): pooling
 * readers across periods compares arms under different allocations (Simpson's paradox: an arm that got most of
 * its readers in the low hours looks worse, and an arm that just got more readers has more whose attribution window
 * has barely begun). As in GrowthBook's bandits (weight_by_period), each arm's mean is sum_p w_p mean_pa, with w_p
 * the period's share of all readers; here over the periods where every compared arm has at least one reader (the
 * others are left out and the weights renormalized). Its variance is sigma^2 sum_p w_p^2 / n_pa = sigma^2 / n_eff
 * (n_eff: Kish's effective readers), with sigma^2 the arm's variance per reader estimated over all its periods: a
 * rate's p(1 - p) at its weighted rate; a value's pooled within-period sample variance (sum of squared deviations
 * from each period's mean over sum_p (n_pa - 1), its degrees of freedom; with one reader in every period, the
 * readers' sample variance around their own mean, n - 1 degrees of freedom). Each period's own variance would not do
 * when periods are small (a quiet shop's hours): a rate's p(1 - p) of n readers is low by (n - 1) / n, and 0 for
 * one reader, as is a value's for one, so 95% intervals of equal arms with one to three readers an arm an hour
 * excluded no difference 24% (rates) and 11% (values) of the time (test/node/period-weighting.test.ts). The
 * comparisons follow proportionTest and meanTest, which they equal for one period: rates by Agresti-Caffo on each
 * arm's effective counts (n_eff, one success and one failure added), normal reference; values by Student's t with
 * the Welch-Satterthwaite degrees of freedom (each arm's the pooled variance's); sequential intervals over the
 * readers in the periods used. Pure.
 */
import { interval, type Reference, upliftInterval } from "./compare";
import { normalQuantile, normalTwoSided, studentQuantile, studentTwoSided } from "./distributions";
import { type Comparison, checkOptions, type TestOptions, upliftEstimable } from "./estimate";
import type { Moments } from "./means";
import type { Proportion } from "./proportions";
import type { BanditArm } from "./thompson";

/** `periods[p][a]`: arm a's counts in period p; every period lists the same arms in the same order. */
export type PeriodTable<T> = readonly (readonly T[])[];

/** One arm's period-weighted estimate. */
export interface PeriodEstimate {
  /** readers in the periods used */
  n: number;
  /** sum_p w_p mean_pa */
  mean: number;
  /** the variance of that mean: sigma^2 / effective */
  variance: number;
  /** Kish's effective readers, 1 / sum_p w_p^2 / n_pa: the readers themselves when the arm's share never moved */
  effective: number;
  /** the degrees of freedom of the arm's variance per reader: sum_p (n_pa - 1) */
  df: number;
  /** events in the periods used (clicks, buyers); null when a period did not count them (Moments.positive) */
  events: number | null;
}

/** The weights and the arms' estimates. */
interface Weighted {
  weights: number[];
  arms: PeriodEstimate[];
}

/** A cell's readers, mean, sum of squared deviations from its mean and events. */
interface Cell {
  n: number;
  mean: number;
  deviations: number;
  events: number | null;
}

const NORMAL: Reference = { quantile: normalQuantile, twoSided: normalTwoSided };

function shape<T>(periods: PeriodTable<T>): number {
  const arms = periods[0]?.length ?? 0;
  for (const [p, row] of periods.entries())
    if (row.length !== arms) throw new RangeError(`period ${p} has ${row.length} arms, period 0 has ${arms}`);
  return arms;
}

/**
 * Each period's weight: its readers over all arms, over those of the periods used; 0 for a period where an arm has
 * no reader. All 0 when no period has a reader in every arm (or there is no arm).
 */
export function periodWeights(readers: PeriodTable<number>): number[] {
  const arms = shape(readers);
  for (const row of readers)
    for (const n of row)
      if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`readers must be whole counts, not ${n}`);
  const totals = readers.map((row) => (arms > 0 && row.every((n) => n > 0) ? row.reduce((s, n) => s + n, 0) : 0));
  const all = totals.reduce((s, t) => s + t, 0);
  return totals.map((t) => (all > 0 ? t / all : 0));
}

function checkProportion({ n, x }: Proportion): void {
  if (!(Number.isInteger(n) && Number.isInteger(x) && n >= 0 && x >= 0 && x <= n))
    throw new RangeError(`a proportion needs whole counts with 0 <= x <= n, not ${x} of ${n}`);
}

function checkMoments({ n, sum, sumSquares }: Moments): void {
  if (!(Number.isInteger(n) && n >= 0 && Number.isFinite(sum) && Number.isFinite(sumSquares)))
    throw new RangeError(`moments need a whole count and finite sums, not n=${n}`);
}

/**
 * The weighted estimates from each cell's readers, mean, squared deviations and events; `perReader` gives the arm's
 * variance per reader from its weighted mean and its cells' squared deviations and degrees of freedom.
 */
function weigh<T>(
  periods: PeriodTable<T>,
  cell: (c: T) => Cell,
  perReader: (mean: number, deviations: number, df: number) => number,
): Weighted | null {
  const arms = shape(periods);
  const cells = periods.map((row) => row.map(cell));
  const weights = periodWeights(cells.map((row) => row.map((c) => c.n)));
  if (!weights.some((w) => w > 0)) return null;
  const estimates: PeriodEstimate[] = [];
  for (let a = 0; a < arms; a++) {
    let n = 0;
    let mean = 0;
    let spread = 0;
    let deviations = 0;
    let df = 0;
    let sum = 0;
    let squares = 0;
    let events: number | null = 0;
    for (const [p, w] of weights.entries()) {
      if (!(w > 0)) continue;
      const c = (cells[p] as Cell[])[a] as Cell;
      n += c.n;
      mean += w * c.mean;
      spread += (w * w) / c.n;
      deviations += c.deviations;
      df += c.n - 1;
      sum += c.n * c.mean;
      squares += c.deviations + c.n * c.mean * c.mean;
      events = events === null || c.events === null ? null : events + c.events;
    }
    // one reader in every period used: no period says how values vary, so the arm's readers' variance around their
    // own mean (between periods too: wider, never none) with n - 1 degrees of freedom
    if (df === 0 && n > 1) [deviations, df] = [Math.max(0, squares - (sum * sum) / n), n - 1];
    const effective = 1 / spread;
    estimates.push({ n, mean, variance: perReader(mean, deviations, df) * spread, effective, df, events });
  }
  return { weights, arms: estimates };
}

function rateCell(c: Proportion): Cell {
  checkProportion(c);
  const mean = c.n > 0 ? c.x / c.n : 0;
  return { n: c.n, mean, deviations: c.n * mean * (1 - mean), events: c.x };
}

/** A rate's variance per reader: p(1 - p) at its weighted rate (at least the weighted mean of the periods' own). */
const rateVariance = (mean: number) => Math.max(0, mean * (1 - mean));

function momentCell(c: Moments): Cell {
  checkMoments(c);
  const mean = c.n > 0 ? c.sum / c.n : 0;
  return {
    n: c.n,
    mean,
    deviations: c.n > 1 ? Math.max(0, c.sumSquares - c.n * mean * mean) : 0,
    events: c.positive ?? null,
  };
}

/**
 * A value's variance per reader: the pooled within-period sample variance (with no period of two readers, the
 * readers' variance around their own mean: weigh() passes it so).
 */
const momentVariance = (_mean: number, deviations: number, df: number) => (df > 0 ? deviations / df : 0);

/** Each arm's period-weighted rate (events: its readers who did it); null when no period has a reader in every arm. */
export function periodRates(periods: PeriodTable<Proportion>): PeriodEstimate[] | null {
  return weigh(periods, rateCell, rateVariance)?.arms ?? null;
}

/**
 * Each arm's period-weighted value per reader (events: its buyers, when every period used counts them); null when
 * no period has a reader in every arm.
 */
export function periodMeans(periods: PeriodTable<Moments>): PeriodEstimate[] | null {
  return weigh(periods, momentCell, momentVariance)?.arms ?? null;
}

/** The two arms compared, weighted over all of `periods`' arms; null when no period has a reader in every arm. */
function compared<T>(
  periods: PeriodTable<T>,
  cell: (c: T) => Cell,
  perReader: (mean: number, deviations: number, df: number) => number,
  control: number,
  treatment: number,
): { a: PeriodEstimate; b: PeriodEstimate } | null {
  const arms = shape(periods);
  for (const i of [control, treatment])
    if (!(Number.isInteger(i) && i >= 0 && i < arms)) throw new RangeError(`no arm ${i} among ${arms}`);
  if (control === treatment) throw new RangeError(`arm ${control} compared with itself`);
  const weighted = weigh(periods, cell, perReader);
  if (!weighted) return null;
  return { a: weighted.arms[control] as PeriodEstimate, b: weighted.arms[treatment] as PeriodEstimate };
}

/**
 * Arm `treatment`'s rate against arm `control`'s, both weighted by period over all the arms in `periods` (so every
 * treatment meets the control under the same weights): proportionTest's comparison on each arm's effective counts.
 */
export function periodProportionTest(
  periods: PeriodTable<Proportion>,
  control: number,
  treatment: number,
  opts: TestOptions = {},
): Comparison {
  const alpha = checkOptions(opts);
  const both = compared(periods, rateCell, rateVariance, control, treatment);
  if (!both) return { absolute: null, relative: null };
  const { a, b } = both;
  // the count whose binomial variance at the weighted rate is the weighted one (Kish's effective readers), plus
  // one success and one failure, as proportionTest adds them
  const adjusted = (e: PeriodEstimate) => {
    const mean = (e.mean * e.effective + 1) / (e.effective + 2);
    return { n: e.effective + 2, mean, variance: mean * (1 - mean) };
  };
  const aa = adjusted(a);
  const bb = adjusted(b);
  const units = a.n + b.n;
  const absolute = interval(
    b.mean - a.mean,
    bb.mean - aa.mean,
    aa.variance / aa.n + bb.variance / bb.n,
    units,
    alpha,
    NORMAL,
    opts,
  );
  const enough = upliftEstimable({ n: a.n, events: a.events ?? 0 }, { n: b.n, events: b.events ?? 0 }) && a.mean > 0;
  const relative =
    absolute && enough ? upliftInterval(aa, bb, b.mean / a.mean - 1, absolute, units, alpha, NORMAL, opts) : null;
  return { absolute, relative };
}

/**
 * Arm `treatment`'s value per reader against arm `control`'s, both weighted by period over all the arms in
 * `periods`: meanTest's comparison, its Student's t with the Welch-Satterthwaite degrees of freedom of the two arms'
 * variances (each with its pooled variance's degrees of freedom).
 */
export function periodMeanTest(
  periods: PeriodTable<Moments>,
  control: number,
  treatment: number,
  opts: TestOptions = {},
): Comparison {
  const alpha = checkOptions(opts);
  const both = compared(periods, momentCell, momentVariance, control, treatment);
  if (!both) return { absolute: null, relative: null };
  const { a, b } = both;
  // a variance needs two readers in each arm
  if (a.n < 2 || b.n < 2) return { absolute: null, relative: null };
  const terms = [a, b].filter((e) => e.df > 0 && e.variance > 0);
  const df =
    terms.reduce((s, e) => s + e.variance, 0) ** 2 / terms.reduce((s, e) => s + (e.variance * e.variance) / e.df, 0);
  const ref: Reference = { quantile: (p) => studentQuantile(p, df), twoSided: (t) => studentTwoSided(t, df) };
  const diff = b.mean - a.mean;
  const units = a.n + b.n;
  const absolute = interval(diff, diff, a.variance + b.variance, units, alpha, ref, opts);
  const enough = upliftEstimable(a, b);
  // upliftInterval takes a variance per unit: n times the variance of the mean
  const perUnit = (e: PeriodEstimate) => ({ n: e.n, mean: e.mean, variance: e.variance * e.n });
  const relative =
    absolute && enough && a.mean > 0
      ? upliftInterval(perUnit(a), perUnit(b), b.mean / a.mean - 1, absolute, units, alpha, ref, opts)
      : null;
  return { absolute, relative };
}

/**
 * Each arm's counts for the bandit's update (banditShares), from its period-weighted rate: trials its effective
 * readers, successes the weighted rate times them. The weighted rate gives each reader in period p the weight
 * w_p / n_pa, so an arm whose readers crowd into a few periods is known less well than its head count says; the
 * effective count is Kish's, (sum of the weights)^2 / (sum of their squares) = 1 / sum_p w_p^2 / n_pa: a Beta of that
 * many trials has the weighted rate's binomial variance, and it equals the readers when the arm's share is the same
 * in every period used. (Its head count made the posteriors too narrow when the shares moved: with the
 * effective count at 60% of it, the 95% intervals covered the weighted rate 90.8% of the time, 96.4% now; 1,000 runs
 * in test/node/period-weighting.test.ts.)
 * An arm is there from its first period with a reader (a variant added to a running bandit), and a period counts
 * when every arm there by then has a reader in it, weighted by their readers; each arm's rate is over the periods
 * that count from its first. Over every arm's periods alike (the report's rule), a variant added after a hundred
 * hours would leave out all of them, and the bandit would start over from one hour: a loser held at its 5% floor
 * for a hundred hours was given 53%, from its 3 readers in the one hour left (test/node/period-weighting.test.ts).
 * No arm with a reader in a period that counts: no trials (equal shares). Null when some arms have one and others
 * not (an arm added since the last period that counts): the update waits for it.
 */
export function periodBanditArms(periods: PeriodTable<Proportion>): BanditArm[] | null {
  const arms = shape(periods);
  const cells = periods.map((row) => row.map(rateCell));
  const first = Array.from({ length: arms }, (_, a) => cells.findIndex((row) => (row[a] as Cell).n > 0));
  const totals = cells.map((row, p) => {
    const there = row.filter((_, a) => first[a] !== -1 && (first[a] as number) <= p);
    return there.length > 0 && there.every((c) => c.n > 0) ? there.reduce((sum, c) => sum + c.n, 0) : 0;
  });
  const out = Array.from({ length: arms }, (_, a): BanditArm => {
    const from = first[a] as number;
    if (from === -1) return { trials: 0, successes: 0 };
    let all = 0;
    for (let p = from; p < totals.length; p++) all += totals[p] as number;
    let mean = 0;
    let spread = 0;
    for (let p = from; p < totals.length; p++) {
      const w = (totals[p] as number) / all;
      if (!(w > 0)) continue;
      const c = (cells[p] as Cell[])[a] as Cell;
      mean += w * c.mean;
      spread += (w * w) / c.n;
    }
    return spread > 0 ? { trials: 1 / spread, successes: mean / spread } : { trials: 0, successes: 0 };
  });
  const known = out.filter((arm) => arm.trials > 0).length;
  return known === 0 || known === arms ? out : null;
}
