/**
 * What an experiment's report says of an arm as a winner, in a line beside its "Ship this arm" button: better than
 * the control on a metric when that metric's interval (the one the page shows: corrected for several arms; the
 * difference's, said as the uplift where there is one, which agrees with it) lies wholly above 0, worse when wholly
 * below. An arm is a winner when it is better on some metric and worse on none, and the sample-ratio check did not
 * fail; the control, when every other arm is worse on some metric and better on none. Anything else is said to be
 * no winner (yet), and why: the page still offers the button. Pure.
 */

import type { Estimate } from "../../core/stats/estimate";
import { wordList } from "../../core/word-list";
import type { ExperimentReport } from "../experiments/experiment-report";

export interface ArmVerdict {
  winner: boolean;
  text: string;
}

type Metric = "opens" | "ctr" | "conversion" | "revenue";
const NAMES: Record<Metric, string> = {
  opens: "open rate",
  ctr: "CTR",
  conversion: "conversion",
  revenue: "revenue per reader",
};

const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
/** A difference as said: rates in percentage points, revenue per reader in the report's currency units. */
const difference = (m: Metric, x: number) =>
  m === "revenue" ? `${x >= 0 ? "+" : ""}${x.toFixed(2)}` : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} pts`;

/** The metrics of `arm` (not the control) whose shown interval lies wholly above 0, and wholly below. */
function sides(report: ExperimentReport, arm: string): { better: string[]; worse: string[]; estimable: boolean } {
  const vs = report.arms.find((a) => a.arm === arm)?.vsControl;
  const metrics: Metric[] =
    report.unit === "sent" ? ["opens", "ctr", "conversion", "revenue"] : ["ctr", "conversion", "revenue"];
  const better: string[] = [];
  const worse: string[] = [];
  let estimable = false;
  for (const m of metrics) {
    // judged by the difference, said as the uplift where there is one: they agree (Fieller's interval, one family),
    // and the difference is there when no ratio bounds the uplift yet (a control's rate not clear of 0)
    const d: Estimate | null | undefined = vs?.[m]?.absolute;
    if (!d) continue;
    estimable = true;
    const shown = d.adjusted ?? d;
    const u: Estimate | null | undefined = vs?.[m]?.relative;
    const uShown = u ? (u.adjusted ?? u) : null;
    const said =
      u && uShown
        ? `${NAMES[m]} ${pct(u.estimate)} [${pct(uShown.ciLow)}, ${pct(uShown.ciHigh)}]`
        : `${NAMES[m]} ${difference(m, d.estimate)} [${difference(m, shown.ciLow)}, ${difference(m, shown.ciHigh)}]`;
    if (shown.ciLow > 0) better.push(said);
    else if (shown.ciHigh < 0) worse.push(said);
  }
  return { better, worse, estimable };
}

export function armVerdict(report: ExperimentReport, arm: string): ArmVerdict {
  if (report.srm?.mismatch)
    return {
      winner: false,
      text: "Not a winner you can trust: the sample ratio check failed, so no result on this page holds.",
    };
  const control = report.control;
  if (arm === control) {
    // the arms compared with it: a variant removed since has no comparison in an hour-weighted report (shown pooled),
    // and is no contender
    const others = report.arms
      .filter((a) => a.arm !== control && a.vsControl !== null)
      .map((a) => ({ arm: a.arm, ...sides(report, a.arm) }));
    const beaten = others.filter((o) => o.better.length > 0);
    if (beaten.length > 0)
      return {
        winner: false,
        text: `Not the winner: ${beaten.map((o) => `${o.arm} did better than this control (${wordList(o.better)})`).join("; ")}.`,
      };
    if (others.length > 0 && others.every((o) => o.worse.length > 0))
      return { winner: true, text: "The control, and every other arm did worse than it on some metric." };
    return {
      winner: false,
      text: "Not (yet) a winner: this is the control, and the report does not find every other arm worse than it.",
    };
  }
  const { better, worse, estimable } = sides(report, arm);
  if (worse.length > 0) return { winner: false, text: `Not a winner: worse than ${control} on ${wordList(worse)}.` };
  if (better.length > 0) return { winner: true, text: `Better than ${control} on ${wordList(better)}.` };
  return {
    winner: false,
    text: estimable
      ? `Not (yet) a winner: no interval against ${control} excludes 0.`
      : `Not (yet) a winner: too few readers to compare it with ${control} yet.`,
  };
}
