/** Binary classification metrics: ROC AUC (ties averaged), log loss, and a calibration table. */

/** Area under the ROC curve by the rank-sum (Mann-Whitney) statistic, tied scores sharing ranks. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let rankSumPos = 0;
  let pos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === scores[order[i] as number]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) {
      if (labels[order[t] as number]) {
        rankSumPos += avgRank;
        pos++;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

export function logLoss(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, probs[i] as number));
    s += labels[i] ? -Math.log(p) : -Math.log(1 - p);
  }
  return s / Math.max(1, probs.length);
}

export interface CalibrationBin {
  bin: number;
  count: number;
  mean_predicted: number;
  observed_rate: number;
}

/** Equal-count bins of predicted probability: mean prediction vs observed rate in each. */
export function calibrationTable(probs: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): CalibrationBin[] {
  const order = Array.from({ length: probs.length }, (_, i) => i).sort(
    (a, b) => (probs[a] as number) - (probs[b] as number),
  );
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const slice = order.slice(Math.floor((b * order.length) / bins), Math.floor(((b + 1) * order.length) / bins));
    if (slice.length === 0) continue;
    out.push({
      bin: b + 1,
      count: slice.length,
      mean_predicted: slice.reduce((a, i) => a + (probs[i] as number), 0) / slice.length,
      observed_rate: slice.reduce((a, i) => a + (labels[i] ? 1 : 0), 0) / slice.length,
    });
  }
  return out;
}
