/**
 * One arm's counts in one hour of a bandit's report (core/experiments/report.ts PeriodCounts): its readers all
 * opened, some clicked, nobody bought. Shared by the tests of hour-weighted reports and their verdicts.
 */
import type { PeriodCounts } from "../../core/experiments/report";

export const clickRow = (period: number, arm: string, exposed: number, clickers: number): PeriodCounts => ({
  period,
  arm,
  exposed,
  opened: exposed,
  clickers,
  buyers: 0,
  payers: 0,
  revenue: 0,
  revenueSquares: 0,
});
