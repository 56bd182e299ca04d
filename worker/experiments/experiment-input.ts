/**
 * What the experiment admin routes read from a request: the id in the path, and an experiment body
 * (core/experiments/experiment.ts) whose variants are campaign configurations, validated with every bad field
 * named by its path, and refused, as the campaigns API refuses them, tests no value of their fact passes
 * (core/campaign.ts campaignProblems), and a running experiment that would measure nothing (one variant and no
 * holdout, or coverage 0: core/experiments/experiment-change.ts runRefusal). Nesting is checked before the schema
 * walks the body.
 */
import type { Context } from "hono";
import { z } from "zod";
import { campaignProblems } from "../../core/campaign";
import { jsonDepth } from "../../core/conditions";
import {
  type Experiment,
  ExperimentIdSchema,
  ExperimentSchema,
  strictVariantIssues,
} from "../../core/experiments/experiment";
import { runRefusal } from "../../core/experiments/experiment-change";
import { refuseProblems } from "../campaigns/campaign-input";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { readJsonBody } from "../lib/read-json-body";
import { invalidInput } from "../lib/zod-issues";

/** Room for MAX_VARIANTS campaign configurations with long item lists. */
export const MAX_EXPERIMENT_BODY = 524_288;
/** A variant's campaign nests as deep as a campaign body may (worker/campaigns/campaign-input.ts), plus two. */
const MAX_BODY_DEPTH = 36;

export function experimentIdParam(c: Context<AppEnv>): string {
  const parsed = ExperimentIdSchema.safeParse(c.req.param("id"));
  if (!parsed.success) throw invalidInput(parsed.error, "BAD_REQUEST", "experiment id");
  return parsed.data;
}

/** The body as an experiment with the path's id (a body naming another id is refused). */
export async function readExperimentBody(c: Context<AppEnv>, id: string): Promise<Experiment> {
  const raw = await readJsonBody(c, MAX_EXPERIMENT_BODY);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new ApiError("BAD_REQUEST", "(root): an experiment object");
  if (jsonDepth(raw, MAX_BODY_DEPTH) > MAX_BODY_DEPTH)
    throw new ApiError("BAD_REQUEST", `(root): nested deeper than ${MAX_BODY_DEPTH} levels`);
  const body = raw as Record<string, unknown>;
  if (body.id !== undefined && body.id !== id) throw new ApiError("BAD_REQUEST", "id: differs from the path's id");
  const input = { v: 1, ...body, id };
  const parsed = ExperimentSchema.safeParse(input);
  if (!parsed.success) throw invalidInput(parsed.error, "BAD_REQUEST", "", { input });
  // each variant's campaign as the campaigns API takes it (stored experiments are read more leniently)
  const strict = strictVariantIssues(body);
  if (strict.length > 0) throw invalidInput(new z.ZodError(strict), "BAD_REQUEST", "", { input: body });
  // one arm, or coverage 0, would run and measure nothing (core/experiments/experiment-change.ts): refused at the
  // PUT only, never when read (a stored one still serves, and a PUT stops it)
  const refusal = runRefusal(parsed.data);
  if (refusal !== null) throw new ApiError("BAD_REQUEST", refusal);
  // a variant's campaign is refused what the campaigns API refuses (worker/campaigns/campaign-input.ts): tests no
  // value of their fact passes (`topProbability $gte 70`), named by their path in the experiment
  const problems = parsed.data.variants.flatMap((v, i) =>
    v.content === "popular"
      ? []
      : campaignProblems(v.content).map((p) => ({ ...p, path: ["variants", i, "content", ...p.path] })),
  );
  refuseProblems(problems, raw);
  return parsed.data;
}
