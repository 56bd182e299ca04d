/**
 * What a timed warm amp-list answer must be for its latency to count as the scenario's: a 200, personalized
 * (a fallback to popular items skips the model and would be timed as if it were the ranking), scored by the
 * scenario's scorer and ranked where it says (X-Opentime-Scorer, X-Opentime-Ranking). Pure.
 */
export interface WarmAnswer {
  status: number;
  reason: string | null;
  scorer: string | null;
  ranking: string | null;
}

/** Why the answer cannot be timed as the scenario's, or null when it can. */
export function warmAnswerProblem(expected: { scorer?: string; ranking?: string }, r: WarmAnswer): string | null {
  if (r.status !== 200) return `status ${r.status}`;
  if (r.reason !== "personalized") return `not personalized (${r.reason})`;
  if (expected.scorer && r.scorer !== expected.scorer) return `scored by ${r.scorer}, not ${expected.scorer}`;
  if (expected.ranking && r.ranking !== expected.ranking) return `ranked from ${r.ranking}, not ${expected.ranking}`;
  return null;
}
