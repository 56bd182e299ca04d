/**
 * A campaign, stored in KV (`campaign:<id>`) through the admin API: settings for decisions and clicks, and
 * blocks with conditions (core/conditions.ts), tried top to bottom down to a default block. A campaign
 * without settings gets the defaults: `freeze`, 30-day decisions, UTM source "opentime", one block of
 * recommendations. Versioned: `parseCampaign` reads version 1 (no `v`, one set of item rules) and migrates it.
 */
import { z } from "zod";
import { BlockCopySchema, COPY_FIELDS, copyTemplateProblem, namesTimeLeft } from "./block-copy";
import { isCardId } from "./card-ids";
import type { CatalogItem } from "./catalog";
import {
  alwaysHolds,
  type Condition,
  type ConditionProblem,
  ConditionSchema,
  conditionDepth,
  conditionProblems,
  factsUsed,
  MAX_CONDITION_DEPTH,
  neverHolds,
  READER_FACTS,
} from "./conditions";
import { secondsLeft, split, timeLeftText } from "./countdown";
import { hasControlCharacter, IdSchema } from "./events";
import { ItemRulesSchema } from "./item-rules";
import { UrlSchema } from "./live-catalog";
import { ModelVersionSchema } from "./manifest";
import { protoKeyIssues } from "./record-keys";

/** A campaign id: 1-64 letters, digits, '_', '.', '-', starting with a letter or digit (the preview page checks it too). */
export const CAMPAIGN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const CampaignIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(CAMPAIGN_ID_PATTERN, "campaign ids are letters, digits, '_', '.', '-'");

/**
 * A UTM parameter's value: 1 to `max` characters; at the admin API (`strict`) of well-formed Unicode too (a URL cannot
 * carry a lone surrogate: withUtm writes one stored before as U+FFFD).
 */
function utmValue(max: number, strict: boolean) {
  const value = z.string().min(1).max(max);
  return strict
    ? value.refine((t) => t.isWellFormed(), { message: "must be well-formed Unicode (no lone surrogate)" })
    : value;
}

/**
 * Appended to every click-through URL; `utm_campaign` defaults to the campaign id. At the admin API (`strict`) a
 * parameter it does not know (`term`) is refused, never dropped with no word, and each value is well-formed Unicode
 * (encodeURIComponent throws on a lone surrogate); a stored campaign is read as it was written (one a later version
 * wrote survives a rollback).
 */
function utmSchema(strict: boolean) {
  const shape = {
    source: utmValue(64, strict).default("opentime"),
    medium: utmValue(64, strict).default("email"),
    campaign: utmValue(128, strict).optional(),
    /** `utm_content`; defaults to the slot (`row-1`) */
    content: utmValue(128, strict).optional(),
  };
  return (strict ? z.strictObject(shape) : z.object(shape)).default({ source: "opentime", medium: "email" });
}
const StrictUtmSchema = utmSchema(true);

/** The longest a campaign may keep its decisions (decisionTtlDays), in days. */
export const MAX_DECISION_TTL_DAYS = 365;

/** The settings every campaign has, whatever its version (`utm` as stored: the admin API's is StrictUtmSchema). */
const SettingsShape = {
  /**
   * `freeze`: the first real open decides what each slot shows, and re-opens and clicks keep it;
   * `live`: every open decides again, and a click follows the latest decision.
   */
  policy: z.enum(["freeze", "live"]).default("freeze"),
  /** how long a decision (and so click-through to it) is kept, in days */
  decisionTtlDays: z.number().int().min(1).max(MAX_DECISION_TTL_DAYS).default(30),
  /** appended to every click-through URL (utmSchema) */
  utm: utmSchema(false),
  /** a short label drawn on every card (e.g. "New", "-20%"); none by default */
  badge: z.string().min(1).max(16).optional(),
  /** where a click goes when nothing at all can be decided (no model, no fallback items) */
  fallbackUrl: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * a click on a product the live catalog hides since the open (out of stock, switched off): `fallback` goes
   * to `fallbackUrl` (the shop's home without one), `product` to the product page all the same
   */
  unavailableClick: z.enum(["fallback", "product"]).default("fallback"),
  /**
   * the model version this campaign's opens are scored with, instead of the active one (an experiment's
   * variant trying a retrained model; `npm run models -- list` names them); one that cannot load serves the
   * active model
   */
  model: ModelVersionSchema.optional(),
  /**
   * IANA time zone of the `localHour` and `weekday` facts when the open's own is unknown (behind a mail
   * proxy, which most opens are); without it those facts are unknown there
   */
  timeZone: z.string().max(64).refine(isTimeZone, { message: "an IANA time zone such as Europe/Berlin" }).optional(),
};

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * ISO 4217's "no currency": what a static block's card carries, so the AMP part and images draw no price.
 */
export const NO_CURRENCY = "XXX";

/** Whether an item is a static or countdown block's (staticItem, countdownItem), not a product. */
export function isStaticItem(item: CatalogItem): boolean {
  return item.currency === NO_CURRENCY && isCardId(item.id);
}

/** A countdown block as the item its slots show: `countdown:<block id>`; images draw it from the block. */
export function countdownItem(block: Countdown, nowMs: number): CatalogItem {
  const deadline = Date.parse(block.deadline);
  const ended = nowMs >= deadline;
  return {
    id: `countdown:${block.id}`,
    // the AMP list shows the time left at the open as text; images draw it from the block
    title: ended ? block.ended.title : `${block.title} ${timeLeftText(split(secondsLeft(deadline, nowMs)))}`,
    category: "",
    price: 0,
    currency: NO_CURRENCY,
    image: ended ? (block.ended.image ?? "") : "",
    url: ended ? (block.ended.url ?? block.url) : block.url,
  };
}

/** The countdown block a `countdown:<id>` item stands for, in this campaign (null: edited away since). */
export function countdownOf(campaign: Campaign, itemId: string): Countdown | null {
  if (!itemId.startsWith("countdown:")) return null;
  const id = itemId.slice("countdown:".length);
  const block = [...campaign.blocks, campaign.default].find((b) => b.id === id);
  return block?.type === "countdown" ? (block as Countdown) : null;
}

/** A static block as the one item its slots show, with the id `static:<block id>`. */
export function staticItem(block: Extract<Block, { type: "static" }>): CatalogItem {
  return {
    id: `static:${block.id}`,
    title: block.title,
    category: "",
    price: 0,
    currency: NO_CURRENCY,
    image: block.image,
    url: block.url,
  };
}

/** Version 1 (stored before blocks): the settings and one set of item rules. Read, and migrated. */
export const CampaignV1Schema = z.object({
  ...SettingsShape,
  /** item rules over the model's candidates at every open (core/item-rules.ts); none by default */
  items: ItemRulesSchema.optional(),
});
export type CampaignV1 = z.infer<typeof CampaignV1Schema>;

export const BlockIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, "block ids are 1-32 letters, digits, '_', '-'");

/** The model's ranking under the block's item rules (core/item-rules.ts). */
const RecommendationsBlock = z.strictObject({
  id: BlockIdSchema,
  type: z.literal("recommendations"),
  /** headline, subline, call to action and badge (mustache, core/block-copy.ts); none: the email's own */
  copy: BlockCopySchema.optional(),
  items: ItemRulesSchema.optional(),
});
/** The same picture and link for everyone the block is served to (in every slot of an image block). */
const StaticBlock = z.strictObject({
  id: BlockIdSchema,
  type: z.literal("static"),
  /** headline, subline, call to action and badge (mustache, core/block-copy.ts); none: the email's own */
  copy: BlockCopySchema.optional(),
  title: z.string().min(1).max(120),
  image: UrlSchema,
  url: UrlSchema,
});
/**
 * One named product as it is now (live price, stock, texts): skipped, like a condition that fails, while the
 * live catalog hides it (out of stock, switched off), or neither the model's catalog holds it nor its live fields
 * describe it (a new arrival: title, price, currency and url; core/live-catalog.ts overlayItem).
 */
const ProductBlock = z.strictObject({
  id: BlockIdSchema,
  type: z.literal("product"),
  /** headline, subline, call to action and badge (mustache, core/block-copy.ts); none: the email's own */
  copy: BlockCopySchema.optional(),
  item: IdSchema,
});
/**
 * The time left to `deadline` at the moment of the open, drawn as an animated GIF (a frame a second for a
 * minute) in image slots and as text in the AMP list; at the deadline it becomes its `ended` content.
 */
const CountdownBlock = z.strictObject({
  id: BlockIdSchema,
  type: z.literal("countdown"),
  /** headline, subline, call to action and badge (mustache, core/block-copy.ts); none: the email's own */
  copy: BlockCopySchema.optional(),
  /** ISO 8601 with a time zone offset: `2026-12-24T18:00:00+01:00` */
  deadline: z.iso.datetime({
    offset: true,
    message: "ISO 8601 with a time zone offset or Z, such as 2026-12-24T18:00:00+01:00",
  }),
  /** drawn above the digits */
  title: z.string().min(1).max(60),
  url: UrlSchema,
  ended: z.strictObject({
    title: z.string().min(1).max(120),
    image: UrlSchema.optional(),
    url: UrlSchema.optional(),
  }),
});
export type Countdown = z.infer<typeof CountdownBlock>;
/** The message for a block whose `type` is none of `types` (zod's own names no type). */
const blockTypeError =
  (types: string[]) =>
  (iss: { code: string; input?: unknown }): string | undefined => {
    if (iss.code !== "invalid_union") return undefined;
    const type = (iss.input as { type?: unknown } | undefined)?.type;
    if (type === "product" && !types.includes("product"))
      return "a product block cannot be the default: it is skipped when its product cannot be shown, and the default never is (use recommendations, static or countdown)";
    return `must be one of: ${types.join(", ")}`;
  };

/** What the default block can be: a product block may be skipped, the default never is. */
export const BlockSchema = z.discriminatedUnion("type", [RecommendationsBlock, StaticBlock, CountdownBlock], {
  error: blockTypeError(["recommendations", "static", "countdown"]),
});
const ConditionalBlock = z.discriminatedUnion(
  "type",
  [
    RecommendationsBlock.extend({ when: ConditionSchema }),
    StaticBlock.extend({ when: ConditionSchema }),
    ProductBlock.extend({ when: ConditionSchema }),
    CountdownBlock.extend({ when: ConditionSchema }),
  ],
  { error: blockTypeError(["recommendations", "static", "product", "countdown"]) },
);
/** Any block a campaign can serve. */
export type Block = z.infer<typeof BlockSchema> | z.infer<typeof ProductBlock>;
export type ConditionalBlock = z.infer<typeof ConditionalBlock>;

export const MAX_BLOCKS = 20;

/**
 * One line of text (no control characters: no header injection), not starting with `=` or `@` (an ESP's CSV
 * opened in a spreadsheet would run it as a formula).
 */
const lineText = (min: number) =>
  z
    .string()
    .min(min)
    .max(200)
    .refine((t) => !hasControlCharacter(t), { message: "one line, without control characters" })
    .refine((t) => !/^[=@]/.test(t), { message: "must not start with = or @" });
const SubjectText = lineText(1);
const PreheaderText = lineText(0);
/**
 * Subject lines by reader: rules tried top to bottom at send time (`npm run email`), the first whose `when`
 * holds gives the subject and preheader, else `default`. Sent before any open, so they test reader facts only.
 */
export const SubjectsSchema = z
  .strictObject({
    rules: z
      .array(
        z.strictObject({
          id: BlockIdSchema,
          when: ConditionSchema,
          subject: SubjectText,
          preheader: PreheaderText.optional(),
        }),
      )
      .max(MAX_BLOCKS)
      .default([]),
    default: z.strictObject({ subject: SubjectText, preheader: PreheaderText.optional() }),
  })
  .superRefine((s, ctx) => {
    const reader = new Set<string>(READER_FACTS);
    for (const [i, r] of s.rules.entries()) {
      if (conditionDepth(r.when) > MAX_CONDITION_DEPTH) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", i, "when"],
          message: `$and/$or/$not nest at most ${MAX_CONDITION_DEPTH - 1} deep`,
        });
      }
      const other = [...factsUsed(r.when)].filter((f) => !reader.has(f));
      if (other.length > 0) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", i, "when"],
          message: `subjects are chosen before any open: they test reader facts only (not ${other.join(", ")})`,
        });
      }
    }
  });
export type Subjects = z.infer<typeof SubjectsSchema>;

const CampaignShape = {
  v: z.literal(2),
  ...SettingsShape,
  /** engagement score thresholds of the `engagement` fact: `high` at or above `high`, `low` below `low` */
  engagementBands: z
    .strictObject({ high: z.number().positive().max(1e6), low: z.number().nonnegative().max(1e6) })
    .refine((b) => b.high > b.low, { message: "high must be above low" })
    .default({ high: 5, low: 1 }),
  blocks: z.array(ConditionalBlock).max(MAX_BLOCKS).default([]),
  default: BlockSchema,
  /** subject lines and preheaders by reader, for `npm run email`; none: the sender's own */
  subjects: SubjectsSchema.optional(),
};

function checkBlocks(
  c: { blocks: ConditionalBlock[]; default: z.infer<typeof BlockSchema> },
  ctx: z.RefinementCtx,
): void {
  const seen = new Set<string>();
  for (const [i, b] of [...c.blocks, c.default].entries()) {
    const path = i < c.blocks.length ? ["blocks", i, "id"] : ["default", "id"];
    if (seen.has(b.id)) ctx.addIssue({ code: "custom", path, message: `block id "${b.id}" is used twice` });
    seen.add(b.id);
  }
  for (const [i, b] of c.blocks.entries()) {
    if (conditionDepth(b.when) > MAX_CONDITION_DEPTH) {
      ctx.addIssue({
        code: "custom",
        path: ["blocks", i, "when"],
        message: `$and/$or/$not nest at most ${MAX_CONDITION_DEPTH - 1} deep`,
      });
    }
  }
}

/** The admin API's check of each block's copy templates (core/block-copy.ts); stored campaigns are not re-checked. */
function checkCopy(
  c: { blocks: ConditionalBlock[]; default: z.infer<typeof BlockSchema> },
  ctx: z.RefinementCtx,
): void {
  for (const [i, b] of [...c.blocks, c.default].entries()) {
    const at = i < c.blocks.length ? ["blocks", i] : ["default"];
    for (const field of COPY_FIELDS) {
      const template = b.copy?.[field];
      if (!template) continue;
      const problem = copyTemplateProblem(template);
      if (problem) ctx.addIssue({ code: "custom", path: [...at, "copy", field], message: problem });
      else if (b.type !== "countdown" && namesTimeLeft(template)) {
        ctx.addIssue({ code: "custom", path: [...at, "copy", field], message: "timeLeft is a countdown block's only" });
      }
    }
  }
}

/** The subjects answer's `rule` for a reader no rule chose (core/block-selection.ts selectSubject). */
export const DEFAULT_RULE = "default";

/**
 * The admin API's checks of subject lines: each rule's id its own (the subjects answer names the rule that chose a
 * reader's subject line, `rule`, which two rules of one id could not tell apart, nor a rule `default` from the
 * default), and every line well-formed Unicode. Stored campaigns are not re-checked.
 */
function checkSubjectRules(c: { subjects?: Subjects | undefined }, ctx: z.RefinementCtx): void {
  // a lone surrogate has no UTF-8 form: the subject header would carry U+FFFD in its place, unsaid
  const lines: [(string | number)[], string | undefined][] = [
    ...(c.subjects?.rules ?? []).flatMap((r, i): [(string | number)[], string | undefined][] => [
      [["subjects", "rules", i, "subject"], r.subject],
      [["subjects", "rules", i, "preheader"], r.preheader],
    ]),
    [["subjects", "default", "subject"], c.subjects?.default.subject],
    [["subjects", "default", "preheader"], c.subjects?.default.preheader],
  ];
  for (const [path, text] of lines)
    if (text !== undefined && !text.isWellFormed())
      ctx.addIssue({ code: "custom", path, message: "must be well-formed Unicode (no lone surrogate)" });
  const seen = new Set<string>();
  for (const [i, r] of (c.subjects?.rules ?? []).entries()) {
    if (r.id === DEFAULT_RULE)
      ctx.addIssue({
        code: "custom",
        path: ["subjects", "rules", i, "id"],
        message: `"${DEFAULT_RULE}" names the default subject line in the answer (rule): give this rule another id`,
      });
    else if (seen.has(r.id))
      ctx.addIssue({
        code: "custom",
        path: ["subjects", "rules", i, "id"],
        message: `rule id "${r.id}" is used twice`,
      });
    seen.add(r.id);
  }
}

/**
 * Version 2: the settings, then blocks tried top to bottom; the first whose `when` holds is served, and
 * `default` when none does. Unknown top-level fields are refused (the admin API) ...
 */
export const CampaignSchema = z
  .strictObject({ ...CampaignShape, utm: StrictUtmSchema })
  .superRefine(checkBlocks)
  .superRefine(checkCopy)
  .superRefine(checkSubjectRules);
/** ... and dropped when a stored campaign is read (one written by a later version survives a rollback). */
const StoredCampaignSchema = z.object(CampaignShape).superRefine(checkBlocks);
export type Campaign = z.infer<typeof CampaignSchema>;

/** v1 -> v2: no conditional blocks; the default block recommends under v1's item rules. */
export function migrateCampaign(v1: CampaignV1): Campaign {
  const migrated = migrateWith(v1, CampaignSchema);
  if (!migrated.success) throw migrated.error;
  return migrated.data;
}

/**
 * v1 -> v2 read by `schema`: the admin API's strict one, or the lenient one of stored campaigns, so that a value the
 * lenient v1 schema let through (a UTM value with a lone surrogate) is an issue of a failed parse, never a throw.
 */
function migrateWith(v1: CampaignV1, schema: typeof CampaignSchema | typeof StoredCampaignSchema) {
  const { items, ...settings } = v1;
  return schema.safeParse({
    v: 2,
    ...settings,
    default: { id: "default", type: "recommendations", ...(items && { items }) },
  });
}

/**
 * Rules tried top to bottom, the first whose `when` holds chosen (blocks, subject rules), that no reader can get: one
 * whose `when` holds for no reader (`{"$not": {}}`), and every one below a rule that holds for every reader (`{}`,
 * `{"$or": [{}]}`), unless `skipped` says that rule can be passed over (a product block, while its item is hidden
 * or bought). `at`: the list's path; `label`: how a message names a rule and what it never does.
 */
function unreachableRules<R extends { id: string; when: Condition }>(
  rules: readonly R[],
  at: (string | number)[],
  label: (r: R) => string,
  skipped: (r: R) => boolean = () => false,
): ConditionProblem[] {
  const list = at.join(".");
  const never = rules.flatMap((r, i) =>
    neverHolds(r.when) ? [{ path: [...at, i, "when"], message: `${label(r)}: its when holds for no reader` }] : [],
  );
  const always = rules.findIndex((r) => !skipped(r) && alwaysHolds(r.when));
  if (always < 0) return never;
  const first = rules[always] as R;
  const how = Object.keys(first.when).length === 0 ? "its when is {}" : "its when holds whatever the reader's facts";
  return [
    ...never.filter((p) => (p.path[at.length] as number) < always),
    ...rules.slice(always + 1).map((r, k) => ({
      path: [...at, always + 1 + k],
      message: `${label(r)}: ${list}[${always}] ("${first.id}") above it holds for every reader (${how}); move it above, or give ${list}[${always}] a condition`,
    })),
  ];
}

/**
 * What the admin API refuses beyond the schema: conditions of blocks and subject rules testing a number fact
 * for values it never takes (core/conditions.ts conditionProblems), and blocks no reader can be served and subject
 * rules that never choose (unreachableRules). Stored campaigns are not re-checked.
 */
export function campaignProblems(c: Campaign): ConditionProblem[] {
  return [
    ...unreachableRules(
      c.blocks,
      ["blocks"],
      (b) => `block "${b.id}" is never served`,
      (b) => b.type === "product",
    ),
    ...unreachableRules(c.subjects?.rules ?? [], ["subjects", "rules"], (r) => `subject rule "${r.id}" never chooses`),
    ...c.blocks.flatMap((b, i) => conditionProblems(b.when, ["blocks", i, "when"])),
    ...(c.subjects?.rules ?? []).flatMap((r, i) => conditionProblems(r.when, ["subjects", "rules", i, "when"])),
  ];
}

/** Fields only version 2 has (version 1 has the settings and `items`). */
const V2_FIELDS = ["blocks", "default", "engagementBands", "subjects"] as const;

/**
 * A stored or submitted campaign of any version, validated and migrated to the current one. Version 1 has no
 * `v` field; `strict` refuses unknown fields and any `__proto__` key (the admin API), stored ones are read
 * leniently.
 */
export function parseCampaign(
  raw: unknown,
  strict = false,
): { success: true; data: Campaign } | { success: false; error: z.ZodError } {
  // a boost's category or tag `__proto__` would be dropped by zod's record, with no word (core/record-keys.ts)
  const proto = strict ? protoKeyIssues(raw, "a category, tag or any other key") : [];
  if (proto.length > 0) return { success: false, error: new z.ZodError(proto) };
  const isObject = raw !== null && typeof raw === "object" && !Array.isArray(raw);
  if (isObject && "v" in raw) return (strict ? CampaignSchema : StoredCampaignSchema).safeParse(raw);
  // a version-2 body that forgot `v` would be read as version 1, which names none of its fields: say so
  const current = isObject ? V2_FIELDS.filter((f) => Object.hasOwn(raw, f)) : [];
  if (strict && current.length > 0) {
    const message = `a campaign with ${current.join(", ")} is version 2: add "v": 2 (without it the body is read as version 1, settings and one "items")`;
    return { success: false, error: new z.ZodError([{ code: "custom", path: ["v"], message, input: raw }]) };
  }
  const v1 = (strict ? CampaignV1Schema.extend({ utm: StrictUtmSchema }).strict() : CampaignV1Schema).safeParse(raw);
  return v1.success ? migrateWith(v1.data, strict ? CampaignSchema : StoredCampaignSchema) : v1;
}

/**
 * A stored campaign's JSON text read as a stored campaign is (parseCampaign, lenient): what opens serve and what the
 * writer compares a write with. Text that is not JSON fails with its SyntaxError.
 */
export function parseCampaignText(
  text: string,
): { success: true; data: Campaign } | { success: false; error: z.ZodError | SyntaxError } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { success: false, error: e as SyntaxError };
  }
  return parseCampaign(raw);
}

export const DEFAULT_CAMPAIGN: Campaign = migrateCampaign(CampaignV1Schema.parse({}));

/**
 * Click-through URL: the product URL with the campaign's UTM parameters (existing ones are kept). They are
 * appended to the query as it is, never re-encoded: `?a` stays `?a` and `%20` stays `%20`, so a signed product
 * URL still verifies.
 */
export function withUtm(productUrl: string, campaignId: string, campaign: Campaign, slot: string): string {
  const url = new URL(productUrl);
  const utm: [string, string][] = [
    ["utm_source", campaign.utm.source],
    ["utm_medium", campaign.utm.medium],
    ["utm_campaign", campaign.utm.campaign ?? campaignId],
    ["utm_content", campaign.utm.content ?? slot],
  ];
  // toWellFormed: a lone surrogate stored before the admin API refused them would make encodeURIComponent throw
  const added = utm
    .filter(([k]) => !url.searchParams.has(k))
    .map(([k, v]) => `${k}=${encodeURIComponent(v.toWellFormed())}`);
  if (added.length > 0) url.search = url.search.length > 1 ? `${url.search}&${added.join("&")}` : added.join("&");
  return url.toString();
}
