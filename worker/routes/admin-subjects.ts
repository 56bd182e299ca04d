/**
 * POST /v1/admin/subjects (Bearer ADMIN_API_KEYS) `{"campaign":"spring","users":["c1","c2"]}`: each reader's
 * subject line and preheader from the campaign's `subjects` rules (core/campaign.ts), decided on what is known
 * of them now (their profile snapshot and the model's features), for `npm run email`. `subject` is null when
 * the campaign has no subject rules. With block copy in the campaign, also the text part's copy: the block
 * served to the reader now with the open's facts unknown (a ranking each). Up to MAX_SUBJECT_USERS readers a
 * request (each costs a few KV reads).
 */
import type { Hono } from "hono";
import { selectSubject } from "../../core/block-selection";
import { type SendTimeCopy, type SubjectAnswer, SubjectsRequestSchema } from "../../core/subject-request";
import { TOKEN_FORMAT_VERSION, type TokenClaims } from "../../core/token";
import { blockCopy } from "../campaigns/block-copy";
import { knownReader } from "../campaigns/known-reader";
import { readerFacts } from "../campaigns/reader-facts";
import { serveBlock } from "../campaigns/serve-block";
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
      const withCopy = [...campaign.blocks, campaign.default].some(
        (b) => b.copy?.headline || b.copy?.subline || b.copy?.cta,
      );
      // the block as an open would choose it with nothing known of the open (a send is not an open)
      const sendTimeCopy = async (user: string): Promise<SendTimeCopy> => {
        const claims: TokenClaims = {
          u: user,
          c: body.campaign,
          e: Math.floor(now / 1000) + 86400,
          v: TOKEN_FORMAT_VERSION,
        };
        const verified = { ok: true as const, claims };
        const served = await serveBlock({ kv, config, token: undefined, verified, campaign, n: 1, open: {}, now });
        const block = served.selection.block;
        const copy = blockCopy(campaign, block, served.facts, served.rec.items[0] ?? null, now);
        return {
          block: block.id,
          headline: copy.headline ?? null,
          subline: copy.subline ?? null,
          cta: copy.cta ?? null,
        };
      };
      const subjects = await Promise.all(
        [...new Set(body.users)].map(async (user): Promise<SubjectAnswer> => {
          const copy = withCopy ? await sendTimeCopy(user) : null;
          if (!campaign.subjects) return { user, subject: null, preheader: null, rule: null, why: "", copy };
          const reader = version ? await knownReader(kv, config, user, version, now) : undefined;
          const chosen = selectSubject(campaign, readerFacts(reader, campaign, categoryOf, now));
          return { user, ...(chosen as NonNullable<typeof chosen>), copy };
        }),
      );
      return c.json({ campaign: body.campaign, subjects });
    },
  );
}
