/**
 * What one slot of an open-time block shows, and where its click goes: the same product.
 *
 * The first real open of (token, slot) decides and stores the decision in KV, one per send and slot (TTL: the
 * campaign's decisionTtlDays). Under `freeze` (the default) later opens and clicks reuse it; under `live` every open
 * decides again and a click follows the latest. A prefetch (Apple MPP) decides and stores a provisional
 * decision that a later real open replaces, as does an open shown generic content because the model failed. A click with nothing stored (images blocked) decides then and
 * stores it, so images loaded afterwards show what was clicked. A HEAD (link scanners, URL checkers), or a GET
 * whose user agent names a link scanner, reads a stored decision or decides as a reader's GET would, and stores
 * and freezes nothing, as does any request whose read of the stored decision failed (KV's error, a deadline): what
 * may be stored there is never written over. Never throws.
 */
import { z } from "zod";
import { COPY_LIMITS, type RenderedCopy } from "../../core/block-copy";
import type { Campaign } from "../../core/campaign";
import { type CatalogItem, CatalogItemSchema } from "../../core/catalog";
import { type ExposureFacts, ExposureFactsSchema } from "../../core/experiments/exposure";
import { candidatesFor, type RulesApplied } from "../../core/item-rules";
import { kvKeys } from "../../core/kv-keys";
import { LAYOUTS, type Slot, slotKey } from "../../core/layouts";
import { isFailureReason, RECS_REASONS, SCORERS, type Scorer, type SlotReason } from "../../core/reasons";
import { emptySlots, slotItems } from "../../core/slot-items";
import { sendKey, sendOf, type TokenClaims, verifyToken } from "../../core/token";
import { blockCopy } from "../campaigns/block-copy";
import { openFacts } from "../campaigns/open-facts";
import { serveBlock } from "../campaigns/serve-block";
import { getLiveCatalog } from "../catalog/live-catalog";
import type { Config } from "../env";
import { openArm, prefetchArm } from "../experiments/open-arm";
import { errorMessage, logEvent } from "../lib/log";
import { openLoads, profileOnce } from "../recs/recommend";
import { blockRanking } from "./block-memo";
import { getCampaign } from "./campaign-store";
import { FETCH_KINDS, isPrefetch } from "./classify-fetch";

export const DECISION_VIAS = [...FETCH_KINDS, "click"] as const;
export type DecisionVia = (typeof DECISION_VIAS)[number];

export const DecisionSchema = z.object({
  v: z.literal(1),
  /**
   * a snapshot of the product, so the click and re-opens hold even if the catalog changes; null: the block had
   * no product left for this slot (core/slot-items.ts), so it drew the generic card and its click goes to the
   * campaign's fallback URL (read as no decision by versions before it)
   */
  item: CatalogItemSchema.nullable(),
  /** `frozen` (freeze, after a real open or click), `provisional` (freeze, after a prefetch), `live` */
  state: z.enum(["frozen", "provisional", "live"]),
  reason: z.enum(RECS_REASONS),
  scorer: z.enum(SCORERS),
  model: z.string().nullable(),
  /** unix milliseconds */
  decidedAt: z.number(),
  via: z.enum(DECISION_VIAS),
  /** the campaign block that was served, and why (core/block-selection.ts); absent in older decisions */
  block: z.object({ id: z.string().max(64), why: z.string().max(600) }).optional(),
  /**
   * the block's copy as the slot's card showed it (core/block-copy.ts: the item's words, never the reader's), so
   * a re-open draws the same words; absent in decisions stored before copy existed
   */
  copy: z
    .object({
      headline: z.string().max(COPY_LIMITS.headline).optional(),
      subline: z.string().max(COPY_LIMITS.subline).optional(),
      cta: z.string().max(COPY_LIMITS.cta).optional(),
      badge: z.string().max(COPY_LIMITS.badge).optional(),
    })
    .optional(),
  /**
   * the experiments' arms the decision was made under (core/experiments/exposure.ts): a click or re-open that
   * reuses it records the same exposure; absent when no experiment ran
   */
  exposures: z.array(ExposureFactsSchema).max(2).optional(),
  /** `<experiment>:<arm>` (`X-Opentime-Experiment`) */
  experiment: z.string().max(100).optional(),
});
export type Decision = z.infer<typeof DecisionSchema>;

export interface SlotDecision {
  /** null: nothing can be shown (no model, no fallback): a generic card and the campaign's fallback URL */
  item: CatalogItem | null;
  /** `personalized`, `stored-frozen`, `stored-live`, or why generic content was chosen */
  reason: SlotReason;
  scorer: Scorer;
  model: string | null;
  /** `stored`: an earlier decision was reused; `decided`: decided now (and stored if it could be) */
  source: "stored" | "decided";
  state: Decision["state"] | null;
  claims: TokenClaims | null;
  /** whether the open or click may be recorded as an event (a verified token, a reader who allows tracking) */
  recordable: boolean;
  campaignId: string;
  campaign: Campaign;
  /** what the campaign's item rules did to the block's ranking, when decided now under rules */
  rules?: RulesApplied;
  /** the campaign block shown and why (`X-Opentime-Block`); also kept with a stored decision */
  block?: { id: string; why: string };
  /** decided now: what the block's slots show (each once), for the open's impressions */
  shown?: CatalogItem[];
  /** the block's copy for this slot's item (with the campaign's badge when the block has none) */
  copy: RenderedCopy;
  /** the experiments' arms this decision serves, which a real open or click records as exposures */
  exposures: ExposureFacts[];
  /** `<experiment>:<arm>`, when an experiment (or the global holdout) applies */
  experiment?: string;
}

export interface DecideInput {
  kv: KVNamespace;
  config: Config;
  token: string;
  slot: Slot;
  via: DecisionVia;
  /**
   * a HEAD, or a GET a link scanner sent (classify-click.ts): answer what a GET would, and write nothing (no decision
   * stored, none frozen)
   */
  head?: boolean;
  waitUntil: (p: Promise<unknown>) => void;
  /** where the request came from (`request.cf`: cfSignals), for the open's facts */
  location?: { timezone: string | null; country: string | null };
  /** unix milliseconds */
  now?: number;
}

/**
 * The decision stored under `key`: null when none is (or not one this version reads), `unreadable` when KV failed
 * (a passing error, a deadline): one may be stored, so nothing is written over it (a frozen promise would be lost).
 */
async function readDecision(kv: KVNamespace, key: string): Promise<Decision | null | "unreadable"> {
  try {
    const raw = await kv.get(key, "json");
    const parsed = DecisionSchema.safeParse(raw);
    return parsed.success ? parsed.data : null;
  } catch (e) {
    logEvent("error", "decision.read_failed", { detail: errorMessage(e) });
    return "unreadable";
  }
}

/** Whether a stored decision answers this request without deciding again. */
function reuse(stored: Decision, campaign: Campaign, via: DecisionVia): boolean {
  if (via === "click") return true; // a click always follows what was last shown
  if (campaign.policy === "live") return false; // every open decides again
  if (stored.state === "frozen") return true;
  // provisional (a prefetch decided it): another prefetch keeps it, a real open decides again
  return isPrefetch(via);
}

/**
 * The state a decision is stored in. Under `freeze`, an open's decision is frozen, except a prefetch's and one made
 * on generic content because something failed (a model failure, a scoring error: `failed`): those are provisional,
 * so their click follows what was shown (and freezes it) while the next real open decides again, instead of the
 * failure's content being held for decisionTtlDays. A click's is frozen: the reader chose what it leads to.
 */
function nextState(campaign: Campaign, via: DecisionVia, failed: boolean): Decision["state"] {
  if (campaign.policy === "live") return "live";
  if (via === "click") return "frozen";
  return isPrefetch(via) || failed ? "provisional" : "frozen";
}

export async function decideSlot(input: DecideInput): Promise<SlotDecision> {
  const { kv, config, slot, via } = input;
  const now = input.now ?? Date.now();
  const verified = await verifyToken(config.tokenSecrets, input.token, Math.floor(now / 1000));
  const claims = verified.ok ? verified.claims : null;
  const campaignId = claims?.c ?? "";
  // one decision per send (a trigger's emails share a campaign). A click finding none reads the one stored per
  // campaign before that (an image shown before the upgrade, clicked after it, leads to what it showed); opens
  // decide afresh. Remove that read once the last such decision has expired (decisionTtlDays after the upgrade).
  const key = claims ? kvKeys.decision(claims.u, claims.c, sendOf(claims), slotKey(slot)) : null;
  const storedRead = claims
    ? readDecision(kv, key as string).then((own) =>
        own || via !== "click" ? own : readDecision(kv, kvKeys.legacyDecision(claims.u, claims.c, slotKey(slot))),
      )
    : Promise.resolve(null);
  // an experiment running on the campaign: the reader's arm decides which configuration serves (open-arm.ts).
  // The reader's profile is read only if one runs (from the moment that is known, beside the campaign's and the
  // stored decision's reads), and shared with the ranking; nothing else (the model above all) is asked for
  // until a decision is made: a click or re-open that reuses a stored one needs none of it.
  const loads = openLoads(kv, config, now, input.waitUntil);
  const [base] = await Promise.all([
    getCampaign(kv, campaignId, now),
    claims &&
      prefetchArm(kv, campaignId, now).then((applies) => {
        if (applies) void profileOnce(loads, kv, claims.u);
      }),
  ]);
  const arm = claims ? await openArm(kv, claims, base, () => profileOnce(loads, kv, claims.u), now) : null;
  const campaign = arm?.campaign ?? base;
  const read = await storedRead;
  // KV could not say what is stored: decide for this answer, and store nothing over what may be there
  const unreadable = read === "unreadable";
  const stored = unreadable ? null : read;
  if (stored && reuse(stored, campaign, via)) {
    // a click on a prefetched (provisional) decision: the reader saw it, so it holds from now on
    if (via === "click" && stored.state === "provisional" && key && !input.head) {
      input.waitUntil(write(kv, key, { ...stored, state: "frozen" }, campaign));
    }
    return {
      item: stored.item,
      reason: `stored-${stored.state}`,
      scorer: stored.scorer,
      model: stored.model,
      source: "stored",
      state: stored.state,
      claims,
      // stored only for readers who allowed tracking; turning it off deletes them (events/consumer.ts)
      recordable: claims !== null,
      campaignId,
      campaign,
      block: stored.block,
      // decisions stored before copy existed: the campaign's badge, as they were drawn
      copy: stored.copy ?? (campaign.badge ? { badge: campaign.badge } : {}),
      // what was shown was decided under these arms: a click on it counts for them. None: it was decided before
      // any experiment (or the global holdout) ran, so it shows no arm, and exposes nobody to the arm that runs now
      exposures: stored.exposures ?? [],
      experiment: stored.experiment,
    };
  }

  // the block's slots share one ranking, of one campaign block (block-memo.ts): slot i shows its item i
  const n = LAYOUTS[slot.layout].slots;
  const open = openFacts({
    format: "html",
    fetcher: via === "click" ? "direct" : via,
    ...input.location,
    campaignZone: campaign.timeZone,
    now,
  });
  const serve = () =>
    serveBlock({
      kv,
      config,
      token: input.token,
      verified,
      campaign,
      n,
      open,
      now,
      loads,
      personalize: arm?.personalize,
      waitUntil: input.waitUntil,
    });
  // one ranking per send's block (a send's frequency cap is its own: two emails of a trigger do not share one)
  const memoKey = {
    user: claims?.u ?? "",
    campaign: claims ? sendKey(claims) : "",
    slots: n,
    open: JSON.stringify(open),
  };
  const served = await (claims ? blockRanking(memoKey, now, serve) : serve());
  const rec = served.rec;
  const block = { id: served.selection.block.id, why: served.explanation };
  // the block's ranking may be a few seconds old (block-memo.ts): what the live catalog hides since is not shown
  const { unavailable } = await getLiveCatalog(kv, input.waitUntil, now);
  const gone = (id: string) => unavailable.has(id);
  const shownBlock = served.selection.block;
  let slots: (CatalogItem | null)[];
  if (shownBlock.type !== "recommendations") {
    // a static, countdown or product block: its one card in every slot
    const only = rec.items[0] && !gone(rec.items[0].id) ? rec.items[0] : null;
    slots = Array.from({ length: n }, () => only);
  } else {
    // no product twice in one email: a slot the ranking leaves without one (the rules left fewer items than
    // slots, or its item went away since) takes a popular item the same rules allow that no other slot shows,
    // else none (core/slot-items.ts)
    const empty = emptySlots(rec.items, n, gone);
    const more = empty > 0 ? rec.more : undefined;
    const spares = more
      ? await more(new Set(rec.items.map((it) => it.id)), candidatesFor(empty)).catch((e) => {
          logEvent("error", "decision.spares_failed", { detail: errorMessage(e) });
          return [];
        })
      : [];
    const cap = rec.rules ? shownBlock.items?.maxPerCategory : undefined;
    slots = slotItems(rec.items, n, gone, spares, cap);
  }
  // (a block's one card counts once)
  const shown = [...new Set(slots.filter((it): it is CatalogItem => it !== null))];
  const item = slots[slot.index] ?? null;
  const copy = blockCopy(campaign, served.selection.block, item, now);
  // nothing is stored for readers who opted out of personalization or tracking (or whose consent is unknown), nor
  // for a HEAD; an empty slot of a block that shows products is (its click must lead where its image did: the
  // fallback), one with nothing to show at all is not (the next open tries again)
  const storable =
    key !== null &&
    (item !== null || (shownBlock.type === "recommendations" && shown.length > 0)) &&
    rec.reason !== "opted-out" &&
    rec.recordable;
  const state = storable && !input.head && !unreadable ? nextState(campaign, via, isFailureReason(rec.reason)) : null;
  if (storable && state) {
    const decision: Decision = {
      v: 1,
      item,
      state,
      reason: rec.reason as Decision["reason"],
      scorer: rec.scorer,
      model: rec.modelVersion,
      decidedAt: now,
      via,
      block,
      copy,
      ...(arm && { exposures: arm.exposures, experiment: arm.label }),
    };
    input.waitUntil(write(kv, key, decision, campaign));
  }
  return {
    item,
    reason: rec.reason,
    scorer: rec.scorer,
    model: rec.modelVersion,
    source: "decided",
    state,
    claims,
    recordable: claims !== null && rec.recordable,
    campaignId,
    campaign,
    rules: rec.rules,
    block,
    shown,
    copy,
    exposures: arm?.exposures ?? [],
    experiment: arm?.label,
  };
}

async function write(kv: KVNamespace, key: string, decision: Decision, campaign: Campaign): Promise<void> {
  try {
    await kv.put(key, JSON.stringify(decision), { expirationTtl: campaign.decisionTtlDays * 86400 });
  } catch (e) {
    // KV allows one write per second per key: a lost write only means the next request decides again
    logEvent("warn", "decision.write_failed", { detail: errorMessage(e) });
  }
}
