/**
 * GET /v1/admin/experiments/<id>/report?intervals=...&correction=...&phase=... (Bearer ADMIN_API_KEYS): the experiment's
 * results (worker/experiments/experiment-report.ts). Intervals are always-valid (`sequential`, the default:
 * looking every day does not inflate false positives) or fixed-horizon (`fixed`: one look, at a planned end).
 * With more than one arm compared with the control, each metric's comparisons are corrected as a family
 * (`correction=holm-bonferroni`, the default: the chance of any false positive among them stays under 5%;
 * `benjamini-hochberg`: the expected share of false positives among the positives; `none`): each estimate
 * carries `adjusted` (p-value and interval) beside its own. Revenue is in one currency, `currency=GBP` (`none`: the
 * purchases that gave none; by default the one most purchases were made in); `currencies` lists them all.
 * `phase=current` counts only the readers drawn in the current phase (since the last change of the arms' shares or of
 * what an arm shows: readers drawn before saw other content or were drawn at other shares); `all` (the default), all.
 * `global-holdout` reports the global holdout (PUT /v1/admin/holdout). 404 for an unknown experiment; 503 EXPERIMENTS_UNAVAILABLE when the experiment store (D1 `DB`) is not bound.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { isCurrencyCode } from "../../core/events";
import { GLOBAL_HOLDOUT_ID } from "../../core/experiments/experiment";
import { REPORT_INTERVALS } from "../../core/experiments/report";
import { CORRECTION_METHODS } from "../../core/stats/multiple-testing";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { experimentIdParam } from "../experiments/experiment-input";
import { experimentReport, reportDecisionTtlDays } from "../experiments/experiment-report";
import { reportedExperiment } from "../experiments/experiment-store";
import { ReportPhaseSchema } from "../experiments/report-phase";
import { requireApiKey } from "../lib/api-key";
import { invalidInput } from "../lib/zod-issues";

export const ReportQuery = z.object({
  intervals: z.enum(REPORT_INTERVALS).default("sequential"),
  correction: z.enum(CORRECTION_METHODS).default("holm-bonferroni"),
  /** `current`: only the readers whose arm was drawn in the current phase (since the last change of shares or content) */
  phase: ReportPhaseSchema.default("all"),
  /** the revenue's currency: an ISO 4217 code, or `none` for purchases that gave none */
  currency: z
    .string()
    .refine((v) => v === "none" || isCurrencyCode(v), {
      message: "must be an ISO 4217 currency code (three letters, e.g. GBP), or none",
    })
    .transform((v) => (v === "none" ? null : v.toUpperCase()))
    .optional(),
});

export function registerAdminExperimentReport(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/experiments/:id/report",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      // the global holdout has its report too (`global-holdout`), though no experiment may take its id
      const id = c.req.param("id") === GLOBAL_HOLDOUT_ID ? GLOBAL_HOLDOUT_ID : experimentIdParam(c);
      const input = c.req.query();
      const query = ReportQuery.safeParse(input);
      if (!query.success) throw invalidInput(query.error, "BAD_REQUEST", "", { input });
      const db = c.env.DB;
      if (!db) throw new ApiError("EXPERIMENTS_UNAVAILABLE", "the experiment store (D1 binding DB) is not configured");
      const experiment = await reportedExperiment(c.env.OPENTIME_KV, id);
      if (!experiment) throw new ApiError("NOT_FOUND", `no experiment "${id}"`);
      return c.json(
        await experimentReport(db, experiment, {
          intervals: query.data.intervals,
          correction: query.data.correction,
          phase: query.data.phase,
          decisionTtlDays: await reportDecisionTtlDays(c.env.OPENTIME_KV, experiment),
          ...(query.data.currency !== undefined && { currency: query.data.currency }),
          shopCurrency: getConfig(c.env).shopCurrency,
        }),
        200,
        {
          "Cache-Control": "private, no-store",
        },
      );
    },
  );
}
