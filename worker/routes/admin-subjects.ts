/**
 * POST /v1/admin/subjects (Bearer ADMIN_API_KEYS) `{"campaign":"spring","users":["c1","c2"]}`: each reader's
 * subject line and preheader from the campaign's `subjects` rules (core/campaign.ts), decided on what is known
 * of them now (their profile snapshot and the model's features), for `npm run email`. `subject` is null when
 * the campaign has no subject rules. Up to MAX_SUBJECT_USERS readers a request (each costs a few KV reads).
 */
import type { Hono } from "hono";
import { selectSubject } from "../../core/block-selection";
import { type SubjectAnswer, SubjectsRequestSchema } from "../../core/subject-request";
import { knownReader } from "../campaigns/known-reader";
import { readerFacts } from "../campaigns/reader-facts";
import { getCampaign } from "../decisions/campaign-store";
import { type AppEnv, getConfig } from "../env";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";
import { itemLookup } from "../model/item-lookup";
import { getModel } from "../model/model-store";

export function registerAdminSubjects(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/subjects",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const body = await readValidBody(c, SubjectsRequestSchema, 65_536);
      const kv = c.env.OPENTIME_KV;
      const config = getConfig(c.env);
      const now = Date.now();
      const [campaign, model] = await Promise.all([
        getCampaign(kv, body.campaign, 0),
        getModel(kv, config.modelRefreshSeconds, now),
      ]);
      const version = model.ok ? model.model.manifest.version : null;
      const lookup = itemLookup(model);
      const categoryOf = (item: string) => lookup(item)?.category;
      const subjects = await Promise.all(
        [...new Set(body.users)].map(async (user): Promise<SubjectAnswer> => {
          if (!campaign.subjects) return { user, subject: null, preheader: null, rule: null, why: "" };
          const reader = version ? await knownReader(kv, config, user, version, now) : undefined;
          const chosen = selectSubject(campaign, readerFacts(reader, campaign, categoryOf, now));
          return { user, ...(chosen as NonNullable<typeof chosen>) };
        }),
      );
      return c.json({ campaign: body.campaign, subjects });
    },
  );
}
