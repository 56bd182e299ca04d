/**
 * User profile as stored in KV under `profile:<userId>`. Versioned: `v` is the schema version and
 * `parseProfile` migrates older versions forward, so the Worker reads every stored generation.
 * Holds no PII: ids are pseudonymous.
 */
import { z } from "zod";
import { ExposuresSchema } from "./experiments/exposure";
import { fieldPath } from "./field-path";
import { MAX_STORED_POOL } from "./reader-pool";

export const PROFILE_SCHEMA_VERSION = 3;
/** Bound on stored purchase history entries (most recent kept). */
export const MAX_PURCHASE_HISTORY = 200;

/**
 * The order of a profile's purchases, of which it keeps the first MAX_PURCHASE_HISTORY: latest purchase first (whole
 * seconds), ties by item id. The trainer reads a reader's own items as the same newest ones (scripts/train/hybrid.ts),
 * and the edge keeps the same ones as events arrive (core/apply-events.ts).
 */
export function newestFirst(a: { item: string; lastTs: number }, b: { item: string; lastTs: number }): number {
  return Math.floor(b.lastTs) - Math.floor(a.lastTs) || (a.item < b.item ? -1 : a.item > b.item ? 1 : 0);
}
/** Bound on stored recent interactions (views, carts, clicks, purchases), newest first. */
export const MAX_RECENT_ITEMS = 50;
/** Bound on stored impressions (items shown in emails), newest first: the item rules' frequency cap reads them. */
export const MAX_IMPRESSIONS = 300;
/**
 * Idempotency windows: the profile remembers its last MAX_SEEN_EVENTS event ids (written atomically with
 * it, so a retried write never double counts), and `seen:<user>` the last MAX_SEEN_HISTORY (so a replay
 * long after the fact, such as a resumed import, counts once too).
 */
export const MAX_SEEN_EVENTS = 1000;
export const MAX_SEEN_HISTORY = 50_000;
/** Ceiling of a profile's summed order value (rfm.monetary saturates here, so it never overflows). */
export const MAX_MONETARY = 1e12;

const VectorSchema = z.object({
  /** the model version the vector belongs to */
  model: z.string(),
  /** base64 of little-endian float32 values */
  vector: z.string(),
});

/** v1 (first release): factors and the latest purchases. */
export const ProfileV1Schema = z.object({
  v: z.literal(1),
  userId: z.string().min(1),
  updatedAt: z.string(),
  factors: VectorSchema.nullable(),
  recentPurchases: z.array(z.object({ item: z.string(), ts: z.number().int() })).max(50),
});

export const PurchaseSummarySchema = z.object({
  item: z.string(),
  /** distinct orders containing the item */
  invoices: z.number().int().positive(),
  /** last purchase, unix seconds */
  lastTs: z.number().int(),
});
export type PurchaseSummary = z.infer<typeof PurchaseSummarySchema>;

export const ProfileV2Schema = z.object({
  v: z.literal(2),
  userId: z.string().min(1),
  /** ISO time of the last write */
  updatedAt: z.string(),
  /** ALS user factors, valid only for the named model version */
  factors: VectorSchema.nullable(),
  /** content (LSA) vector of the user's items, for the named model version */
  contentVector: VectorSchema.nullable(),
  /** purchase history summary per item, most recent first, bounded by MAX_PURCHASE_HISTORY */
  purchases: z.array(PurchaseSummarySchema).max(MAX_PURCHASE_HISTORY),
  segment: z.object({ id: z.number().int().nonnegative(), name: z.string() }).nullable(),
  /** best send hours (UTC hour of day, best first) and the hour-of-week distribution (base64 of 168 uint8, scaled to the max) */
  sendTime: z.object({ bestHours: z.array(z.number().int().min(0).max(23)), hourOfWeek: z.string() }).nullable(),
  /** probability of a purchase in the next 30 days at the last model run */
  propensity: z.number().min(0).max(1).nullable(),
  /** probability of a purchase within 7 days at the last model run (the time-to-purchase hazard); absent before it */
  buyWithin7d: z.number().min(0).max(1).nullable().default(null),
});
/** A topic a reader can subscribe to, and how many distinct ones a profile keeps. */
const TopicSchema = z.string().min(1).max(64);
const MAX_TOPICS = 50;

export const ConsentSchema = z.object({
  /** false: generic content only */
  personalization: z.boolean(),
  /** false: no events recorded */
  tracking: z.boolean(),
  topics: z.array(TopicSchema).max(MAX_TOPICS),
  frequency: z.enum(["daily", "weekly", "monthly"]).nullable(),
  /** unix seconds until which sends are paused */
  pausedUntil: z.number().int().nullable(),
  unsubscribed: z.boolean(),
  updatedAt: z.number().int().nullable(),
});
export type Consent = z.infer<typeof ConsentSchema>;

/** Unix seconds from here on are milliseconds sent by mistake (the year 5138): a pause that would never end. */
export const MAX_PAUSE_SECONDS = 1e11;

/** A pause's end as the profile keeps it: whole seconds from 0 to MAX_PAUSE_SECONDS (one past it never ends anyway). */
export function storablePause(seconds: number): number {
  return Math.min(Math.max(0, Math.floor(seconds)), MAX_PAUSE_SECONDS - 1);
}
const PAUSE_FORMAT =
  "unix seconds, or an ISO 8601 time with its zone (2027-01-01T00:00:00Z, as GET /v1/admin/suppressions answers it); null ends a pause";

/** A pause's end in unix seconds: from 1970 up to MAX_PAUSE_SECONDS. */
const PauseSecondsSchema = z
  .number(PAUSE_FORMAT)
  .int(PAUSE_FORMAT)
  .nonnegative(PAUSE_FORMAT)
  .lt(MAX_PAUSE_SECONDS, PAUSE_FORMAT);

/**
 * A pause's end as a consent change takes it: unix seconds, or the ISO time the suppression list answers (an ESP sync
 * that reads the list writes back what it read), stored as unix seconds; a number of milliseconds is refused, not
 * kept as a pause of 30,000 years, and an ISO time is held to the same range (not before 1970, not past 5138).
 */
const PausedUntilChangeSchema = z
  .union(
    [
      PauseSecondsSchema,
      z.iso
        .datetime({ offset: true, error: PAUSE_FORMAT })
        .transform((t) => Math.floor(Date.parse(t) / 1000))
        .pipe(PauseSecondsSchema),
    ],
    { error: PAUSE_FORMAT },
  )
  .nullable()
  .optional();

/**
 * A change's topics: each kept once, in first-named order, and the bound counts distinct topics (a client naming one
 * twice is not refused for it, nor echoed twice in `queued`); the body's byte cap bounds what is read before that.
 */
const TopicsChangeSchema = z
  .array(TopicSchema)
  .transform((topics) => [...new Set(topics)])
  .pipe(z.array(TopicSchema).max(MAX_TOPICS, `at most ${MAX_TOPICS} distinct topics`))
  .optional()
  .describe(
    `the topics subscribed to, replacing the reader's: at most ${MAX_TOPICS} distinct (one named twice is kept once)`,
  );

/** A consent change (`PUT /v1/users/<id>/consent`): any of the fields, nothing else. */
export const ConsentChangeSchema = ConsentSchema.partial()
  .omit({ updatedAt: true })
  .extend({ pausedUntil: PausedUntilChangeSchema, topics: TopicsChangeSchema })
  .strict();

export const DEFAULT_CONSENT: Consent = {
  personalization: true,
  tracking: true,
  topics: [],
  frequency: null,
  pausedUntil: null,
  unsubscribed: false,
  updatedAt: null,
};

/** v3 = v2 + real-time state (events, consent, idempotency). */
export const ProfileV3Schema = ProfileV2Schema.extend({
  v: z.literal(3),
  /** latest interactions, newest first, bounded by MAX_RECENT_ITEMS */
  recentItems: z.array(z.object({ item: z.string(), type: z.string(), ts: z.number().int() })).max(MAX_RECENT_ITEMS),
  /** email engagement: opens count 1 and clicks 3, halving every 30 days; `at` is when `score` was last decayed */
  engagement: z.object({ score: z.number().nonnegative(), at: z.number().int() }),
  /** unix seconds of the newest event */
  lastActivity: z.number().int().nullable(),
  /** orders seen as purchase events since the last model run, and their value */
  rfm: z.object({
    orders: z.number().int().nonnegative(),
    monetary: z.number().nonnegative().max(MAX_MONETARY),
    lastPurchaseTs: z.number().int().nullable(),
  }),
  consent: ConsentSchema,
  /** items shown to the reader in emails (amp-list answers, image slots), newest first (MAX_IMPRESSIONS) */
  impressions: z
    /** `send`: the email that showed it (core/token.ts sendKey: `<campaign>:<token expiry>.<nonce>`): its own re-opens never count against it */
    .array(z.object({ item: z.string(), ts: z.number().int(), send: z.string().max(200).optional() }))
    .max(MAX_IMPRESSIONS)
    .default([]),
  /** the arm of each experiment the reader was exposed to (core/experiments/exposure.ts): sticky, and attribution */
  experiments: ExposuresSchema.default({}),
  /** ids of recently applied events, newest last (MAX_SEEN_EVENTS); a consent change keeps none (its clock) */
  seenEvents: z.array(z.string()).max(MAX_SEEN_EVENTS),
});
export type Profile = z.infer<typeof ProfileV3Schema>;
export type ProfileV2 = z.infer<typeof ProfileV2Schema>;

export type ProfileParse = { ok: true; profile: Profile; migratedFrom?: number } | { ok: false; error: string };

/** v1 -> v2: purchases grouped by item (one order per stored purchase); the new fields empty. */
export function migrateV1(p: z.infer<typeof ProfileV1Schema>): ProfileV2 {
  const byItem = new Map<string, PurchaseSummary>();
  for (const r of p.recentPurchases) {
    const s = byItem.get(r.item);
    if (s) {
      s.invoices++;
      s.lastTs = Math.max(s.lastTs, r.ts);
    } else byItem.set(r.item, { item: r.item, invoices: 1, lastTs: r.ts });
  }
  return {
    v: 2,
    userId: p.userId,
    updatedAt: p.updatedAt,
    factors: p.factors,
    contentVector: null,
    purchases: [...byItem.values()].sort((a, b) => b.lastTs - a.lastTs),
    segment: null,
    sendTime: null,
    propensity: null,
    buyWithin7d: null,
  };
}

/** v2 -> v3: the real-time fields start empty, consent at its defaults. */
export function migrateV2(p: ProfileV2): Profile {
  return {
    ...p,
    v: 3,
    recentItems: [],
    engagement: { score: 0, at: 0 },
    lastActivity: p.purchases[0]?.lastTs ?? null,
    rfm: { orders: 0, monetary: 0, lastPurchaseTs: p.purchases[0]?.lastTs ?? null },
    consent: DEFAULT_CONSENT,
    impressions: [],
    experiments: {},
    seenEvents: [],
  };
}

/** A new, empty profile (first event of an unknown user). */
export function emptyProfile(userId: string, nowIso: string): Profile {
  return migrateV2({
    v: 2,
    userId,
    updatedAt: nowIso,
    factors: null,
    contentVector: null,
    purchases: [],
    segment: null,
    sendTime: null,
    propensity: null,
    buyWithin7d: null,
  });
}

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${fieldPath(i.path) || "(root)"}: ${i.message}`).join("; ");
}

/**
 * What can be kept of a stored profile that does not validate: every top-level field that validates on its
 * own (consent above all), the rest at their empty defaults. `reset` names the fields that were not kept.
 */
export function salvageProfile(raw: unknown, userId: string, nowIso: string): { profile: Profile; reset: string[] } {
  const base = emptyProfile(userId, nowIso);
  const source = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  const shape = ProfileV3Schema.shape;
  const reset: string[] = [];
  const out: Record<string, unknown> = { ...base };
  for (const key of Object.keys(shape) as (keyof typeof shape)[]) {
    if (key === "v" || key === "userId") continue;
    const field = shape[key].safeParse(source[key]);
    if (field.success) out[key] = field.data;
    else {
      reset.push(key);
      // consent is kept field by field: one bad field (a topic an earlier version took unchecked) loses no other
      if (key === "consent") out.consent = salvageConsent(source.consent);
    }
  }
  const parsed = ProfileV3Schema.safeParse(out);
  return parsed.success ? { profile: parsed.data, reset } : { profile: base, reset: ["*"] };
}

/**
 * What can be kept of a stored consent that does not validate, field by field: each field that validates on its own,
 * the topics that do (each once), a pause outside 0..MAX_PAUSE_SECONDS kept at its bound; a field of it that cannot be
 * read takes the more private value (personalization and tracking off, unsubscribed), never the opt-in default. No
 * consent at all (a profile of a version before consent existed, one not JSON): personalization and tracking off, and
 * nothing stopping sends (as a migrated one has none: an unsubscribe the reader never made would reach the shop's
 * list).
 */
export function salvageConsent(raw: unknown): Consent {
  if (raw === null || typeof raw !== "object") return { ...DEFAULT_CONSENT, personalization: false, tracking: false };
  const source = raw as Record<string, unknown>;
  const shape = ConsentSchema.shape;
  const kept = <K extends keyof Consent>(key: K, otherwise: Consent[K]): Consent[K] => {
    const field = shape[key].safeParse(source[key]);
    return field.success ? (field.data as Consent[K]) : otherwise;
  };
  const pause = source.pausedUntil;
  return {
    personalization: kept("personalization", false),
    tracking: kept("tracking", false),
    // each topic once: a form that offers one in two places, or a client, may name it twice
    topics: Array.isArray(source.topics)
      ? [...new Set(source.topics.filter((t): t is string => shape.topics.element.safeParse(t).success))].slice(
          0,
          MAX_TOPICS,
        )
      : [],
    frequency: kept("frequency", null),
    pausedUntil: typeof pause === "number" && Number.isFinite(pause) ? storablePause(pause) : kept("pausedUntil", null),
    unsubscribed: kept("unsubscribed", true),
    updatedAt: kept("updatedAt", null),
  };
}

/** Validates a stored profile (after JSON.parse), migrating older schema versions. */
export function parseProfile(raw: unknown): ProfileParse {
  const version = (raw as { v?: unknown } | null)?.v;
  if (version === 1) {
    const v1 = ProfileV1Schema.safeParse(raw);
    return v1.success
      ? { ok: true, profile: migrateV2(migrateV1(v1.data)), migratedFrom: 1 }
      : { ok: false, error: issues(v1.error) };
  }
  if (version === 2) {
    const v2 = ProfileV2Schema.safeParse(raw);
    return v2.success
      ? { ok: true, profile: migrateV2(v2.data), migratedFrom: 2 }
      : { ok: false, error: issues(v2.error) };
  }
  const res = ProfileV3Schema.safeParse(raw);
  return res.success ? { ok: true, profile: res.data } : { ok: false, error: issues(res.error) };
}

/**
 * One model version's outputs for one user, stored apart from the profile (`features:<user>:<version>`),
 * so publishing a new model never overwrites real-time state (consent, history, seen events).
 */
export const UserFeaturesSchema = ProfileV3Schema.pick({
  userId: true,
  factors: true,
  contentVector: true,
  segment: true,
  sendTime: true,
  propensity: true,
  buyWithin7d: true,
}).extend({
  v: z.literal(1),
  model: z.string(),
  /**
   * the reader's pool for this version (core/reader-pool.ts), stored form; absent or not a pool's (too long): none,
   * and every open scores the catalog, the rest of the features read as they are
   */
  pool: z.string().max(MAX_STORED_POOL).nullable().catch(null),
});
export type UserFeatures = z.infer<typeof UserFeaturesSchema>;

export type ModelOutputs = Pick<
  Profile,
  "factors" | "contentVector" | "segment" | "sendTime" | "propensity" | "buyWithin7d"
>;

/** What no model serving knows of a reader: none of its outputs (their segment, factors, propensities). */
export const NO_MODEL_OUTPUTS: ModelOutputs = {
  factors: null,
  contentVector: null,
  segment: null,
  sendTime: null,
  propensity: null,
  buyWithin7d: null,
};

/** The model outputs for `version`: from the features key when present, else those stored in the profile. */
export function modelOutputs(profile: Profile | null, features: UserFeatures | null, version: string): ModelOutputs {
  if (features && features.model === version) {
    const { factors, contentVector, segment, sendTime, propensity, buyWithin7d } = features;
    return { factors, contentVector, segment, sendTime, propensity, buyWithin7d };
  }
  return {
    factors: profile?.factors?.model === version ? profile.factors : null,
    contentVector: profile?.contentVector?.model === version ? profile.contentVector : null,
    segment: profile?.segment ?? null,
    sendTime: profile?.sendTime ?? null,
    propensity: profile?.propensity ?? null,
    buyWithin7d: profile?.buyWithin7d ?? null,
  };
}

export function featuresOf(profile: Profile, model: string, pool: string | null = null): UserFeatures {
  return {
    v: 1,
    userId: profile.userId,
    model,
    factors: profile.factors,
    contentVector: profile.contentVector,
    segment: profile.segment,
    sendTime: profile.sendTime,
    propensity: profile.propensity,
    buyWithin7d: profile.buyWithin7d,
    pool,
  };
}
