/** Summary statistics for latency samples (milliseconds). */

export interface LatencySummary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Nearest-rank percentiles, rounded to the microsecond. No samples, no figures: every one NaN (null in the JSON),
 * never a 0 that reads as a measurement. A sample that is not a finite number (a Server-Timing part missing from
 * an answer) throws: the sort cannot order it, so every percentile after it would be silently wrong.
 */
export function summarize(samples: readonly number[]): LatencySummary {
  const bad = samples.findIndex((x) => !Number.isFinite(x));
  if (bad !== -1) throw new RangeError(`latency sample ${bad} of ${samples.length} is ${samples[bad]}, not a time`);
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0)
    return { n: 0, mean: Number.NaN, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
    p50: r(q(0.5)),
    p95: r(q(0.95)),
    p99: r(q(0.99)),
    max: r(s[s.length - 1] as number),
  };
}
