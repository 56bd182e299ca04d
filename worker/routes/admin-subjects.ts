/**
 * POST /v1/admin/subjects (Bearer ADMIN_API_KEYS) `{"campaign":"spring","users":["c1","c2"]}`: each reader's
 * subject line and preheader from the campaign's `subjects` rules (core/campaign.ts), decided on what is known
 * of them now (their profile snapshot and the model's features), for `npm run email`. `subject` is null when
 * the campaign has no subject rules. With block copy in the campaign, also the text part's copy: the block
 * served to the reader now with the open's facts unknown (a ranking each, whose read of the reader also gives the
 * subject's facts; a block whose condition names a fact of the open is left out). Up to MAX_SUBJECT_USERS readers a
 * request (each costs a few KV reads). The campaign is read through its one writer (campaign-edits.ts): the last
 * edit, which KV here may not show for a minute (503 STATE_UNAVAILABLE when the writer cannot be reached). A KV read
 * that fails fails the request (503 KV_UNAVAILABLE for a passing failure: send it again) where an open would fall
 * back: an answer decided on an unread profile would be a stranger's, baked into the send.
 */
import type { Hono } from "hono";
import { renderCopy } from "../../core/block-copy";
import { selectSubject } from "../../core/block-selection";
import type { Campaign } from "../../core/campaign";
import { type Condition, type Fact, factsUsed, OPEN_FACTS } from "../../core/conditions";
import type { QueuedEvent } from "../../core/events";
import {
  MAX_SUBJECTS_BODY_BYTES,
  type SendTimeCopy,
  type SubjectAnswer,
  SubjectsRequestSchema,
} from "../../core/subject-request";
import { TOKEN_FORMAT_VERSION, type TokenClaims } from "../../core/token";
import { campaignForEdit } from "../campaigns/campaign-edits";
import { knownReader } from "../campaigns/known-reader";
import { liveCategories, type ReaderView, readerFacts } from "../campaigns/reader-facts";
import { serveBlock } from "../campaigns/serve-block";
import { getLiveCatalog } from "../catalog/live-catalog";
import { type AppEnv, getConfig } from "../env";
import { enqueue, eventsUnavailable } from "../events/queue";
import { assignmentEvents } from "../experiments/exposure-events";
import { armForOpen, prefetchArm } from "../experiments/open-arm";
import { requireApiKey } from "../lib/api-key";
import { background } from "../lib/background";
import { noteKvFailures } from "../lib/kv-failures";
import { readValidBody } from "../lib/read-json-body";
import { itemLookup } from "../model/item-lookup";
import { getModel } from "../model/model-store";
import { pinnedModel } from "../model/pinned-model";
import { readProfile } from "../profile/profile-store";

const OPEN = new Set<Fact>(OPEN_FACTS);
const namesOpenFact = (when: Condition) => [...factsUsed(when)].some((f) => OPEN.has(f));

export function registerAdminSubjects(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/subjects",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const body = await readValidBody(c, SubjectsRequestSchema, MAX_SUBJECTS_BODY_BYTES);
      // every read is noted: a reader answered from a fallback (their profile unread) fails the batch instead
      const noted = noteKvFailures(c.env.OPENTIME_KV);
      const kv = noted.kv;
      const config = getConfig(c.env);
      const now = Date.now();
      const bg = background(c);
      // the campaign's experiment and the global holdout read once here, into the isolate's cache, where every
      // reader's arm finds them: read by each reader at once, they were two KV reads a reader (300 of a batch)
      // the campaign as its one writer has it (the last edit, wherever made): KV here may hold the one before for a
      // minute, and a send's subject lines are written once, for good
      const [{ campaign: base }, model] = await Promise.all([
        campaignForEdit(c.env, body.campaign),
        getModel(kv, config.modelRefreshSeconds, now, bg.waitUntil),
        prefetchArm(kv, body.campaign, now),
      ]);
      const hasCopy = (campaign: Campaign) =>
        [...campaign.blocks, campaign.default].some((b) => b.copy?.headline || b.copy?.subline || b.copy?.cta);
      // read once for the whole batch: each reader then costs only their own reads (rank: tombstone, profile,
      // features), whatever the campaign's conditions
      const shared = { model: Promise.resolve(model), live: getLiveCatalog(kv, bg.waitUntil, now) };
      // what a reader bought from: the categories opens show (the live catalog's over the model's)
      const categoryOf = liveCategories(itemLookup(model), await shared.live);
      /**
       * The block an open would serve with nothing known of the open (a send is not an open), and what is known
       * of the reader (from the same ranking: one read of their data). The claims stand for a token never
       * issued: serveBlock records nothing (no decision, event or impression).
       */
      const served = (user: string, whole: Campaign, personalize: boolean | undefined) => {
        // a block whose condition names a fact of the open is never the text part's: unknown here, it fails a test
        // but holds under `$not` or `$exists: false`, which would pick a night block for a morning's reader
        const campaign = { ...whole, blocks: whole.blocks.filter((b) => !namesOpenFact(b.when)) };
        const e = Math.floor(now / 1000) + 86400;
        const claims: TokenClaims = { u: user, c: body.campaign, e, v: TOKEN_FORMAT_VERSION };
        const verified = { ok: true as const, claims };
        return serveBlock({
          kv,
          config,
          token: undefined,
          verified,
          campaign,
          n: 1,
          open: {},
          now,
          shared,
          personalize,
          waitUntil: bg.waitUntil,
        });
      };
      const assignments: QueuedEvent[] = [];
      const subjects = await Promise.all(
        [...new Set(body.users)].map(async (user): Promise<SubjectAnswer> => {
          // an experiment on the campaign: the reader's arm (sticky once assigned) decides the configuration,
          // and is kept for the open (an assignment), so the open serves what the subject line promised
          const arm = await armForOpen({
            kv,
            campaignId: body.campaign,
            campaign: base,
            user,
            exposures: async () => {
              const read = await readProfile(kv, user);
              return read.ok ? read.profile.experiments : {};
            },
            now,
          });
          if (arm) assignments.push(...assignmentEvents(user, arm.exposures, now));
          const campaign = arm?.campaign ?? base;
          // popular items and the global holdout use nothing of the reader: not for the subject line either
          const personal = arm?.personalize !== false;
          const withCopy = hasCopy(campaign);
          let copy: SendTimeCopy | null = null;
          let reader: ReaderView | undefined;
          if (withCopy) {
            const s = await served(user, campaign, arm?.personalize);
            // the text part is read long after the send: its product (decided at the click) and a countdown's
            // time left are unknown here, so `{{#item}}` sections drop out, and a countdown's `{{#timeLeft}}` and
            // `{{^timeLeft}}` both do unless its deadline has passed already (then it has ended, whenever read)
            const block = s.selection.block;
            const words = renderCopy(block.copy, {
              item: null,
              ...(block.type === "countdown" && { timeLeft: now >= Date.parse(block.deadline) ? "" : null }),
            });
            copy = {
              block: block.id,
              headline: words.headline ?? null,
              subline: words.subline ?? null,
              cta: words.cta ?? null,
            };
            reader = personal ? s.rec.reader : undefined;
          } else if (campaign.subjects && personal) {
            // the model the campaign's opens are scored with (one it is held on, else the active one), as with copy;
            // with none serving, the reader's own facts still (engagement, purchases, topics)
            const scored = campaign.model
              ? await pinnedModel(kv, campaign.model, shared.model, now, bg.waitUntil)
              : model;
            reader = await knownReader(kv, config, user, scored.ok ? scored.model.manifest.version : null, now);
          }
          const experiment = arm ? { experiment: arm.label } : {};
          if (!campaign.subjects)
            return { user, subject: null, preheader: null, rule: null, why: "", copy, ...experiment };
          const chosen = selectSubject(campaign, readerFacts(reader, campaign, categoryOf, now));
          return { user, ...(chosen as NonNullable<typeof chosen>), copy, ...experiment };
        }),
      );
      // a read that failed may have made a reader's answer a stranger's: the builder sends the batch again
      if (noted.failure() !== null) throw noted.failure();
      // a build not to be sent (a dry run) records no arm: its readers were not sent the campaign
      if (body.record && assignments.length > 0) {
        const queued = await enqueue(c.env.EVENTS, assignments);
        if (!queued.ok) throw eventsUnavailable(queued, "the readers' arms could not be recorded; try again");
      }
      return c.json({ campaign: body.campaign, subjects });
    },
  );
}
