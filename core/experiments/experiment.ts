/**
 * An experiment on a campaign (stored by the admin API): variants that are campaign configurations (blocks,
 * rules, copy; or the shop's popular items as a control), their weights, the share of readers it covers, and a
 * holdout that gets no personalization. The token names the campaign; while an experiment runs on it, each
 * reader's variant (core/experiments/assignment.ts) decides which configuration serves them. Pure.
 */
import { z } from "zod";
import { type Campaign, CampaignIdSchema, DEFAULT_CAMPAIGN, parseCampaign } from "../campaign";

/** The global holdout's id in the store and on profiles (worker/experiments/open-arm.ts): no experiment takes it. */
export const GLOBAL_HOLDOUT_ID = "global-holdout";
/** The arm of the readers an experiment's holdout keeps from personalization (no variant may take the id). */
export const HOLDOUT_ARM = "holdout";
/** The global holdout's two arms. */
export const GLOBAL_HOLDOUT_ARMS = { held: HOLDOUT_ARM, rest: "personalized" } as const;
/** How long after a reader's first open the global holdout counts their clicks and purchases. */
export const GLOBAL_ATTRIBUTION_DAYS = 30;

/**
 * Ids key plain objects (a reader's exposures, a report's shares, the bandit's weights): a name every object
 * has (`constructor`, `toString`, `valueOf`, ...) would read a function where no such key was set.
 */
const notObjectMember = [
  (id: string) => !(id in Object.prototype),
  "ids may not be a name every JavaScript object has (constructor, toString, valueOf, ...)",
] as const;

export const ExperimentIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "experiment ids are 1-64 letters, digits, '_', '.', '-'")
  .refine(...notObjectMember)
  .refine((id) => id !== GLOBAL_HOLDOUT_ID, `"${GLOBAL_HOLDOUT_ID}" is the global holdout's (PUT /v1/admin/holdout)`);

/**
 * The global holdout as an experiment, for its report: arms `personalized` and `holdout` (its share), the
 * control the holdout, clicks on any campaign and purchases within 30 days.
 */
export function globalHoldoutExperiment(holdout: GlobalHoldout | null, attributionDays: number): Experiment {
  // off: as it was when it ended (its arms, its control, its phase), stopped
  const was = holdout && holdout.share === 0 ? holdout.ended : undefined;
  const share = was?.share ?? holdout?.share ?? 0;
  const phaseStart = was ? was.phaseStart : holdout?.phaseStart;
  return {
    ...(phaseStart !== undefined && { phaseStart }),
    // turned off: when (its report says until when clicks and purchases still count)
    ...(was && { changes: [{ at: was.at, kind: "stopped" as const }] }),
    v: 1,
    id: GLOBAL_HOLDOUT_ID,
    campaign: "all-campaigns",
    coverage: 1,
    holdout: share,
    variants: [{ id: GLOBAL_HOLDOUT_ARMS.rest, weight: 1, content: DEFAULT_CAMPAIGN }],
    attributionDays,
    status: (holdout?.share ?? 0) > 0 ? "running" : "stopped",
  };
}
const VariantIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, "variant ids are 1-32 letters, digits, '_', '-'")
  .refine(...notObjectMember);

export const MAX_VARIANTS = 10;

/** Changes an experiment remembers (the newest kept): far more than a campaign's experiment goes through. */
export const MAX_CHANGES = 50;

/**
 * One change in an experiment's life, recorded by the registry with its time (core/experiments/experiment-change.ts):
 * `started` (created running, or running again after a stop), `stopped`, `shares` (the arms' intended shares moved:
 * a new phase), `content` (what the `arms` named show changed: a new phase) and `shipped` (the one arm named was
 * made the campaign itself, for every reader: the dashboard's "Ship this arm", recorded just before its stop).
 * Reports and the dashboard show them, so results that pool readers who saw an arm before and after a change say so.
 */
export const ExperimentChangeSchema = z.strictObject({
  /** unix seconds (a phase's start, for `shares` and `content`) */
  at: z.number().int().nonnegative(),
  kind: z.enum(["started", "stopped", "shares", "content", "shipped"]),
  /** `content`: the variants whose content changed; `shipped`: the variant shipped */
  arms: z.array(z.string().max(32)).max(MAX_VARIANTS).optional(),
});
export type ExperimentChange = z.infer<typeof ExperimentChangeSchema>;

/** The hashes' seed of an experiment or of the global holdout. */
const SeedSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "seeds are 1-64 letters, digits, '_', '.', '-'");

/**
 * A variant's content: a campaign configuration (any version, read as a stored campaign is), or `popular`. The
 * admin API's stricter checks (unknown fields, well-formed text, rule ids) are made at the PUT (strictVariantIssues
 * below, called by worker/experiments/experiment-input.ts), not here: a stored experiment is read with this schema
 * too, and one saved before a check was added must still serve.
 */
const VariantContent = z.unknown().transform((raw, ctx): Campaign | "popular" => {
  if (raw === "popular") return raw;
  const parsed = parseCampaign(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  return z.NEVER;
});

export const VariantSchema = z.strictObject({
  id: VariantIdSchema,
  /** relative share of the covered readers (any positive scale) */
  weight: z.number().positive().max(1000),
  /** `popular`: the shop's popular items (the control of "is personalization worth it"), else a campaign */
  content: VariantContent,
});
export type Variant = z.infer<typeof VariantSchema>;

/**
 * A share of readers, 0 to `max`: one given as a percentage (`5` for 5%) is refused saying so, as a probability in a
 * condition is (core/conditions.ts).
 */
function shareOf(max: number) {
  return z
    .number()
    .min(0, { error: `a share of readers, 0 to ${max} (0.05 is 5%)` })
    .max(max, { error: (issue) => `a share of readers, 0 to ${max} (0.05 is 5%), not ${issue.input}` });
}

export const ExperimentSchema = z
  .strictObject({
    v: z.literal(1),
    id: ExperimentIdSchema,
    /** the campaign whose tokens it runs on */
    campaign: CampaignIdSchema,
    /** the hashes' seed: a new seed reshuffles every reader not yet exposed; defaults to the id */
    seed: SeedSchema.optional(),
    /** share of readers in the experiment (0-1); the others get the campaign as it is and are not counted */
    coverage: shareOf(1).default(1),
    /** share of the covered readers held out: popular items, no personalization, counted as `holdout` */
    holdout: shareOf(0.5).default(0),
    variants: z.array(VariantSchema).min(1).max(MAX_VARIANTS),
    /** clicks and purchases this many days after a reader's exposure count for their variant */
    attributionDays: z.number().int().min(1).max(30).default(7),
    status: z.enum(["running", "stopped"]).default("running"),
    /**
     * when the arms' current shares and content took effect (unix seconds; set by the registry, never by a PUT):
     * a change of weights, variants or holdout, or of what a variant shows, starts a new phase; the sample-ratio
     * check counts the readers drawn since (those before were assigned at other shares), and a report of the
     * current phase (`phase=current`) only them (those before saw an arm's old content). Absent: since the start.
     */
    phaseStart: z.number().int().nonnegative().optional(),
    /**
     * what the registry recorded of the experiment's life, oldest first (set by the registry, never by a PUT):
     * each start and stop, each change of the arms' shares and of what an arm shows, with its time
     */
    changes: z.array(ExperimentChangeSchema).max(MAX_CHANGES).optional(),
    /**
     * bandit mode (Thompson sampling, core/stats/thompson.ts): the variants' weights are rewritten every hour
     * (worker/experiments/bandit-job.ts) to each one's probability of the best `goal` rate, never under
     * `floor`; readers already exposed keep their variant. Without it the weights stay as set.
     */
    bandit: z
      .strictObject({
        goal: z.enum(["click", "purchase"]).default("click"),
        floor: z.number().min(0).max(0.5).default(0.05),
      })
      .optional(),
  })
  .superRefine((e, ctx) => {
    if (e.bandit && e.bandit.floor * e.variants.length > 1)
      ctx.addIssue({ code: "custom", path: ["bandit", "floor"], message: "the floors of all variants exceed 1" });
    const ids = new Set<string>();
    for (const [i, v] of e.variants.entries()) {
      if (ids.has(v.id) || v.id === HOLDOUT_ARM)
        ctx.addIssue({ code: "custom", path: ["variants", i, "id"], message: `variant id "${v.id}" is taken` });
      ids.add(v.id);
    }
  });
export type Experiment = z.infer<typeof ExperimentSchema>;

const HoldoutShareSchema = shareOf(0.2);
/**
 * A share of every campaign's readers kept from personalization altogether (the global holdout). Off: a share
 * of 0, with what it was when it was turned off (`ended`), so that its report still reads as it did.
 */
export const GlobalHoldoutSchema = z.strictObject({
  share: HoldoutShareSchema,
  seed: SeedSchema.default("global-holdout"),
  /** when this share and seed took effect (unix seconds; set by the registry, as an experiment's phase) */
  phaseStart: z.number().int().nonnegative().optional(),
  /** set by the registry when it is turned off: the share and phase it ended, and when (unix seconds) */
  ended: z
    .strictObject({
      share: HoldoutShareSchema.positive(),
      phaseStart: z.number().int().nonnegative().optional(),
      at: z.number().int().nonnegative(),
    })
    .optional(),
});
export type GlobalHoldout = z.infer<typeof GlobalHoldoutSchema>;

/** A PUT of the global holdout: without `seed`, the seed in force stays (a new one would move every reader). */
export const GlobalHoldoutChangeSchema = z.strictObject({
  share: HoldoutShareSchema,
  seed: SeedSchema.optional(),
});
export type GlobalHoldoutChange = z.infer<typeof GlobalHoldoutChangeSchema>;

/** The admin API's checks of each variant's campaign (parseCampaign strict), as paths in the experiment body. */
export function strictVariantIssues(body: unknown): z.core.$ZodIssue[] {
  const variants = (body as { variants?: unknown })?.variants;
  if (!Array.isArray(variants)) return [];
  return variants.flatMap((v, i) => {
    const content = (v as { content?: unknown } | null)?.content;
    if (content === "popular" || content === undefined) return [];
    const parsed = parseCampaign(content, true);
    return parsed.success
      ? []
      : parsed.error.issues.map((issue) => ({ ...issue, path: ["variants", i, "content", ...issue.path] }));
  });
}
