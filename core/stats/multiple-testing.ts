/**
 * Corrections for multiple comparisons: p-values adjusted over a family of tests, by Holm's step-down
 * (Holm-Bonferroni: the chance of any false positive in the family stays under alpha) or by Benjamini-Hochberg's
 * step-up (the expected share of false positives among the positives stays under alpha), as GrowthBook offers
 * them. An interval that agrees with an adjusted p-value is the one made at `adjustedAlpha`: its level moves by
 * the same factor as the p-value, so it excludes no effect exactly when the adjusted p-value is under alpha. Pure.
 */

/** The corrections there are (the report API's `correction` takes these, and its OpenAPI description lists them). */
export const CORRECTION_METHODS = ["holm-bonferroni", "benjamini-hochberg", "none"] as const;
export type Correction = (typeof CORRECTION_METHODS)[number];

/** The p-values adjusted over their family, in their order; each in [0, 1] and never below its own. */
export function adjustPValues(pValues: readonly number[], method: Correction): number[] {
  const m = pValues.length;
  if (method === "none" || m < 2) return [...pValues];
  // ranks by p-value, ties in input order
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const out = new Array<number>(m);
  if (method === "holm-bonferroni") {
    // the k-th smallest times (m - k + 1), never below the one before it
    let running = 0;
    order.forEach(({ p, i }, k) => {
      running = Math.max(running, Math.min(1, p * (m - k)));
      out[i] = running;
    });
  } else {
    // the k-th smallest times m / k, never above the one after it
    let running = 1;
    for (let k = m - 1; k >= 0; k--) {
      const { p, i } = order[k] as { p: number; i: number };
      running = Math.min(running, Math.min(1, (p * m) / (k + 1)));
      // at least p itself, as it is exactly: p * m / m can round below it
      out[i] = Math.max(p, running);
    }
  }
  return out;
}

/**
 * The level at which a test's interval agrees with its adjusted p-value: alpha times p / adjusted p (Bonferroni's
 * alpha / m where the raw p-value is 0, as no ratio can be taken of it).
 */
export function adjustedAlpha(alpha: number, pValue: number, adjusted: number, family: number): number {
  // the ratio first (in [1 / family, 1]): alpha x p underflows to 0 for a p-value near the smallest double
  const level = alpha * (pValue / adjusted);
  return level > 0 ? level : alpha / family;
}
