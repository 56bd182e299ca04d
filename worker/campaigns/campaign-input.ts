/**
 * What the campaign admin routes read from a request: the id in the path, and a campaign body of either
 * version (core/campaign.ts), validated with every bad field named by its path, and tests no value of their fact
 * passes refused (campaignProblems). Nesting is checked before the schema walks the body, so a deeply nested
 * body costs no more than its size.
 */
import type { Context } from "hono";
import { z } from "zod";
import { type Campaign, CampaignIdSchema, campaignProblems, parseCampaign } from "../../core/campaign";
import { type ConditionProblem, jsonDepth } from "../../core/conditions";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { readJsonBody } from "../lib/read-json-body";
import { invalidInput } from "../lib/zod-issues";

/** Room for item rules with long id lists (core/item-rules.ts) in several blocks. */
export const MAX_CAMPAIGN_BODY = 131_072;
/** JSON nesting a campaign needs: its conditions nest at most MAX_CONDITION_DEPTH. */
const MAX_BODY_DEPTH = 32;

export function campaignIdParam(c: Context<AppEnv>): string {
  const parsed = CampaignIdSchema.safeParse(c.req.param("id"));
  if (!parsed.success) throw invalidInput(parsed.error, "BAD_REQUEST", "campaign id");
  return parsed.data;
}

/** A campaign from JSON already read: version 1 (no `v`) is migrated to the current version. */
export function campaignFrom(raw: unknown, prefix = ""): Campaign {
  if (jsonDepth(raw, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw new ApiError("BAD_REQUEST", `${prefix || "(root)"}: nested deeper than ${MAX_BODY_DEPTH} levels`);
  }
  const parsed = parseCampaign(raw, true);
  if (!parsed.success) throw invalidInput(parsed.error, "BAD_REQUEST", prefix, { input: raw });
  // tests that can never hold (`topProbability $gte 70`): refused here, where a campaign is saved
  refuseProblems(campaignProblems(parsed.data), raw, prefix);
  return parsed.data;
}

/**
 * A 400 naming each of `problems` by its path (under `prefix`), as schema errors are named; nothing when there are
 * none. Experiments refuse their variants' campaigns' with it too (worker/experiments/experiment-input.ts).
 */
export function refuseProblems(problems: ConditionProblem[], raw: unknown, prefix = ""): void {
  if (problems.length === 0) return;
  const issues = problems.map((p) => ({ code: "custom" as const, path: p.path, message: p.message, input: raw }));
  throw invalidInput(new z.ZodError(issues), "BAD_REQUEST", prefix);
}

export async function readCampaignBody(c: Context<AppEnv>): Promise<Campaign> {
  return campaignFrom(await readJsonBody(c, MAX_CAMPAIGN_BODY));
}
