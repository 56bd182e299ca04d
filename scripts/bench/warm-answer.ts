/**
 * What a timed warm amp-list answer must be for its latency to count as the scenario's: a 200, personalized
 * (a fallback to popular items skips the model and would be timed as if it were the ranking), scored by the
 * scenario's scorer and ranked where it says (X-Opentime-Scorer, X-Opentime-Ranking), and under an experiment's arm
 * when the campaign's cost is timed with one (X-Opentime-Experiment). Likewise a timed image open
 * (imageOpenProblem). Pure.
 */
export interface WarmAnswer {
  status: number;
  reason: string | null;
  scorer: string | null;
  ranking: string | null;
  /** X-Opentime-Experiment: `<experiment>:<arm>`, or null when no experiment applied */
  experiment?: string | null;
}

/** Why the answer cannot be timed as the scenario's, or null when it can. */
export function warmAnswerProblem(
  expected: { scorer?: string; ranking?: string; experiment?: boolean },
  r: WarmAnswer,
): string | null {
  if (r.status !== 200) return `status ${r.status}`;
  if (r.reason !== "personalized") return `not personalized (${r.reason})`;
  if (expected.scorer && r.scorer !== expected.scorer) return `scored by ${r.scorer}, not ${expected.scorer}`;
  if (expected.ranking && r.ranking !== expected.ranking) return `ranked from ${r.ranking}, not ${expected.ranking}`;
  if (expected.experiment && !r.experiment) return "served without the experiment's arm";
  return null;
}

/** What an image answer says of its decision (X-Opentime-Decision, X-Opentime-Reason, X-Opentime-Experiment). */
export interface ImageOpen {
  decision: string | null;
  reason: string | null;
  experiment?: string | null;
}

/**
 * Why an image open cannot be timed as what it is timed as, or null when it can: a first open decides now (none
 * stored) and is personalized (a popular fallback makes no ranking); a re-open serves the decision its first open
 * stored (one that decided again would be timed as a re-open).
 */
export function imageOpenProblem(
  expected: { open: "first" | "re-open"; experiment?: boolean },
  r: ImageOpen,
): string | null {
  if (expected.open === "re-open") return r.decision === "stored" ? null : `a re-open decided again (${r.decision})`;
  if (r.decision !== "decided") return `a first open found a stored decision (${r.decision})`;
  if (r.reason !== "personalized") return `not personalized (${r.reason})`;
  if (expected.experiment && !r.experiment) return "served without the experiment's arm";
  return null;
}
