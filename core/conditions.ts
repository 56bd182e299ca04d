/**
 * Conditions of a campaign's blocks: which reader, open and model facts a block asks for, in the shape
 * GrowthBook's targeting uses (`{"segment": {"$in": ["loyal"]}, "$or": [...]}`): every field named in one
 * object must hold, `$and` / `$or` / `$not` combine. Facts are a closed vocabulary (FACTS); a fact that is not
 * known for this open (no verified reader, a proxy's location, no calibration) makes every test on it fail
 * except `$exists: false`, so an unknown never selects a block by accident. Pure: evaluation returns whether
 * the condition held and the tests it ran, as text, to explain the choice.
 */
import { z } from "zod";

/** The facts a condition can test, with their kinds and where they come from. */
export const FACTS = {
  // the reader (a verified token and a reader who allows personalization; otherwise unknown)
  /** segment name from the segment model */
  segment: "string",
  /** email engagement band: `high`, `medium`, `low` (the campaign's `engagementBands` thresholds) */
  engagement: "string",
  /** email engagement score: opens 1, clicks 3, halving every 30 days */
  engagementScore: "number",
  /** probability of a purchase within 30 days (propensity model) */
  propensity: "number",
  /** probability of a purchase within 7 days (time-to-purchase hazard) */
  buyWithin7d: "number",
  /** days since the reader's last purchase (unknown for a reader who never bought) */
  daysSinceLastPurchase: "number",
  /** purchases on record: one per item and order */
  purchases: "number",
  /** value of the orders recorded as events since the last model run */
  orderValue: "number",
  /** categories the reader bought from */
  boughtCategories: "set",
  /** topics the reader subscribed to (consent) */
  topics: "set",
  // the open
  /** hour of day (0-23) where the reader is (the request's time zone; unknown behind a mail proxy) */
  localHour: "number",
  /** `mon` .. `sun` where the reader is */
  weekday: "string",
  /** ISO 3166 country of the request (unknown behind a mail proxy) */
  country: "string",
  /** who fetched: `gmail-proxy`, `apple-mpp`, `other-proxy`, `direct` */
  fetcher: "string",
  /** `amp` (the amp-list) or `html` (open-time images) */
  format: "string",
  // the model
  /** the top item's score as a calibrated probability of a purchase (manifest `calibration`) */
  topProbability: "number",
} as const;
export type Fact = keyof typeof FACTS;
export const FACT_NAMES = Object.keys(FACTS) as Fact[];
export const READER_FACTS = [
  "segment",
  "engagement",
  "engagementScore",
  "propensity",
  "buyWithin7d",
  "daysSinceLastPurchase",
  "purchases",
  "orderValue",
  "boughtCategories",
  "topics",
] as const satisfies readonly Fact[];
export const MODEL_FACTS = ["topProbability"] as const satisfies readonly Fact[];
/** The facts of the open itself: unknown where no open is (a send's text part). */
export const OPEN_FACTS = ["localHour", "weekday", "country", "fetcher", "format"] as const satisfies readonly Fact[];

/** A `country` as the request gives it: an ISO 3166 code, or Cloudflare's `T1` (Tor). */
export const COUNTRY_CODE = /^([A-Z]{2}|T1)$/;

/** Values of the facts for one open; absent or null: unknown. */
export type Facts = { [F in Fact]?: (typeof FACTS)[F] extends "set" ? readonly string[] : number | string | null };

/** Nesting of `$and` / `$or` / `$not`, and tests per list: a campaign is read at every open. */
export const MAX_CONDITION_DEPTH = 6;
const MAX_LIST = 20;
const MAX_VALUES = 100;

const Num = z.number().min(-1e12).max(1e12);
const Str = z.string().min(1).max(200);
const Values = z.array(Str).min(1).max(MAX_VALUES);
const Exists = z.boolean();

const NumberTest = z
  .strictObject({
    $eq: Num.optional(),
    $ne: Num.optional(),
    $gt: Num.optional(),
    $gte: Num.optional(),
    $lt: Num.optional(),
    $lte: Num.optional(),
    $in: z.array(Num).min(1).max(MAX_VALUES).optional(),
    $nin: z.array(Num).min(1).max(MAX_VALUES).optional(),
    $exists: Exists.optional(),
  })
  .refine((t) => Object.keys(t).length > 0, { message: "a test needs an operator ($gte, $lt, ...)" });
const StringTest = z
  .strictObject({
    $eq: Str.optional(),
    $ne: Str.optional(),
    $in: Values.optional(),
    $nin: Values.optional(),
    $exists: Exists.optional(),
  })
  .refine((t) => Object.keys(t).length > 0, { message: "a test needs an operator ($eq, $in, ...)" });
/** On a set: `$in` any of the values, `$all` every one, `$nin` none. */
const SetTest = z
  .strictObject({
    $in: Values.optional(),
    $all: Values.optional(),
    $nin: Values.optional(),
    $exists: Exists.optional(),
  })
  .refine((t) => Object.keys(t).length > 0, { message: "a test needs an operator ($in, $all, $nin)" });
type NumberTest = z.infer<typeof NumberTest>;
type StringTest = z.infer<typeof StringTest>;
type SetTest = z.infer<typeof SetTest>;

export type Condition = { [F in Fact]?: (typeof FACTS)[F] extends "number" ? NumberTest : StringTest | SetTest } & {
  $and?: Condition[];
  $or?: Condition[];
  $not?: Condition;
};

const TEST_OF = { number: NumberTest, string: StringTest, set: SetTest } as const;
const fieldShape = Object.fromEntries(FACT_NAMES.map((f) => [f, TEST_OF[FACTS[f]].optional()])) as Record<
  Fact,
  z.ZodOptional<typeof NumberTest | typeof StringTest | typeof SetTest>
>;

/** Values some facts can take: a test naming another value is refused, not left never to match. */
const CLOSED_VALUES: Partial<Record<Fact, readonly string[]>> = {
  engagement: ["high", "medium", "low"],
  weekday: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
  fetcher: ["gmail-proxy", "apple-mpp", "other-proxy", "direct"],
  format: ["amp", "html"],
};

export const ConditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z
    .strictObject({
      ...fieldShape,
      $and: z.array(ConditionSchema).min(1).max(MAX_LIST).optional(),
      $or: z.array(ConditionSchema).min(1).max(MAX_LIST).optional(),
      $not: ConditionSchema.optional(),
    })
    .superRefine((cond, ctx) => {
      for (const [fact, allowed] of Object.entries(CLOSED_VALUES)) {
        const test = cond[fact as Fact] as StringTest | undefined;
        if (!test || !allowed) continue;
        for (const [op, v] of Object.entries(test)) {
          if (op === "$exists") continue;
          for (const value of Array.isArray(v) ? v : [v]) {
            if (!allowed.includes(value as string)) {
              ctx.addIssue({
                code: "custom",
                path: [fact, op],
                message: `${fact} is one of ${allowed.join(", ")}`,
              });
            }
          }
        }
      }
    }),
) as z.ZodType<Condition>;

/** Nesting depth of a parsed JSON value, counted without recursion (checked before the schema walks it). */
export function jsonDepth(value: unknown, limit = 64): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== "object") continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Whether `cond` holds for every reader whatever their facts, by its shape alone: no fact tested, or only inside
 * `$or`s with a member that always holds (`{"$or": [{}]}`, `{"$and": [{}]}`, `{"$not": {"$not": {}}}`).
 */
export function alwaysHolds(cond: Condition): boolean {
  if (FACT_NAMES.some((f) => cond[f] !== undefined)) return false;
  if (!(cond.$and ?? []).every(alwaysHolds)) return false;
  if (cond.$or && !cond.$or.some(alwaysHolds)) return false;
  return cond.$not === undefined || neverHolds(cond.$not);
}

/** Whether `cond` holds for no reader by its shape alone (a `$not` of one that always holds, and what combines it). */
export function neverHolds(cond: Condition): boolean {
  if ((cond.$and ?? []).some(neverHolds)) return true;
  if (cond.$or?.every(neverHolds)) return true;
  return cond.$not !== undefined && alwaysHolds(cond.$not);
}

/** How deep `$and` / `$or` / `$not` nest in a condition. */
export function conditionDepth(cond: Condition): number {
  const inner = [...(cond.$and ?? []), ...(cond.$or ?? []), ...(cond.$not ? [cond.$not] : [])];
  return 1 + Math.max(0, ...inner.map(conditionDepth));
}

/** The facts a condition tests. */
export function factsUsed(cond: Condition, into = new Set<Fact>()): Set<Fact> {
  for (const f of FACT_NAMES) if (cond[f] !== undefined) into.add(f);
  for (const c of [...(cond.$and ?? []), ...(cond.$or ?? [])]) factsUsed(c, into);
  if (cond.$not) factsUsed(cond.$not, into);
  return into;
}

export interface Evaluation {
  held: boolean;
  /**
   * the tests run, in order, each as `fact=value $op operand` with `ok` or `no` (`?`: an unknown value; a
   * hidden fact by name and result only: `segment ok`); `$or` and `$not` as one entry each
   */
  trace: string[];
}

/**
 * Whether `cond` holds for `facts`; stops at the first test that decides (an `$and` failing, an `$or` holding).
 * The facts in `hide` show in the trace by name and result only (`segment ok`): their values, and the operands
 * that would tell them (`$eq bargain ok`), stay out of a header or a stored decision; the preview shows them all.
 */
export function evaluate(cond: Condition, facts: Facts, hide: ReadonlySet<Fact> = NONE): Evaluation {
  const trace: string[] = [];
  const held = holds(cond, facts, trace, hide);
  return { held, trace };
}

const NONE: ReadonlySet<Fact> = new Set();

function holds(cond: Condition, facts: Facts, trace: string[], hide: ReadonlySet<Fact>): boolean {
  for (const f of FACT_NAMES) {
    const test = cond[f];
    if (test !== undefined && !factHolds(f, test, facts[f], trace, hide)) return false;
  }
  for (const c of cond.$and ?? []) if (!holds(c, facts, trace, hide)) return false;
  if (cond.$or) {
    const inner: string[] = [];
    const any = cond.$or.some((c) => holds(c, facts, inner, hide));
    trace.push(`or(${inner.join(", ")}) ${any ? "ok" : "no"}`);
    if (!any) return false;
  }
  if (cond.$not) {
    const inner: string[] = [];
    const negated = !holds(cond.$not, facts, inner, hide);
    trace.push(`not(${inner.join(", ")}) ${negated ? "ok" : "no"}`);
    if (!negated) return false;
  }
  return true;
}

function shown(v: unknown): string {
  if (v === undefined || v === null) return "?";
  if (Array.isArray(v)) return `[${v.join("|")}]`;
  return typeof v === "number" ? String(Math.round(v * 1000) / 1000) : String(v);
}

function factHolds(
  fact: Fact,
  test: NumberTest | StringTest | SetTest,
  value: Facts[Fact],
  trace: string[],
  hide: ReadonlySet<Fact>,
): boolean {
  for (const [op, operand] of Object.entries(test)) {
    if (operand === undefined) continue;
    const ok = opHolds(op, operand, value);
    // a hidden fact's test shows neither the value nor the operand: `segment $eq bargain ok` tells the value
    trace.push(
      hide.has(fact)
        ? `${fact} ${ok ? "ok" : "no"}`
        : `${fact}=${shown(value)} ${op} ${shown(operand)} ${ok ? "ok" : "no"}`,
    );
    if (!ok) return false;
  }
  return true;
}

function opHolds(op: string, operand: unknown, value: Facts[Fact]): boolean {
  const known = value !== undefined && value !== null;
  if (op === "$exists") return known === operand;
  if (!known) return false;
  if (Array.isArray(value)) {
    const set = new Set(value as readonly string[]);
    const values = operand as string[];
    if (op === "$in") return values.some((v) => set.has(v));
    if (op === "$all") return values.every((v) => set.has(v));
    if (op === "$nin") return !values.some((v) => set.has(v));
    return false;
  }
  switch (op) {
    case "$eq":
      return value === operand;
    case "$ne":
      return value !== operand;
    case "$in":
      return (operand as unknown[]).includes(value);
    case "$nin":
      return !(operand as unknown[]).includes(value);
    case "$gt":
      return typeof value === "number" && value > (operand as number);
    case "$gte":
      return typeof value === "number" && value >= (operand as number);
    case "$lt":
      return typeof value === "number" && value < (operand as number);
    case "$lte":
      return typeof value === "number" && value <= (operand as number);
    default:
      return false;
  }
}

/** The values a number fact takes: a test no such value passes is a mistake (`topProbability $gte 70`). */
const NUMBER_RANGES: Partial<Record<Fact, { min: number; max: number; integer: boolean; what: string }>> = {
  localHour: { min: 0, max: 23, integer: true, what: "an hour, 0 to 23" },
  propensity: { min: 0, max: 1, integer: false, what: "a probability, 0 to 1 (0.7 is 70%)" },
  buyWithin7d: { min: 0, max: 1, integer: false, what: "a probability, 0 to 1 (0.7 is 70%)" },
  topProbability: { min: 0, max: 1, integer: false, what: "a probability, 0 to 1 (0.7 is 70%)" },
  engagementScore: { min: 0, max: Number.POSITIVE_INFINITY, integer: false, what: "never negative" },
  daysSinceLastPurchase: { min: 0, max: Number.POSITIVE_INFINITY, integer: false, what: "never negative" },
  purchases: { min: 0, max: Number.POSITIVE_INFINITY, integer: true, what: "a whole number, never negative" },
  orderValue: { min: 0, max: Number.POSITIVE_INFINITY, integer: false, what: "never negative" },
};

export interface ConditionProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Why the bounds of one number test (`$gt $gte $lt $lte`, and `$eq`) leave no value that passes them all, or null:
 * `{"localHour": {"$gte": 18, "$lt": 6}}` meant "18:00 to 06:00" and never holds (every operator of a test must
 * hold at once). Whole-number facts count whole numbers only (`purchases` `$gt 1, $lt 2`).
 */
function contradiction(fact: Fact, test: NumberTest): string | null {
  const integer = NUMBER_RANGES[fact]?.integer ?? false;
  // the least and greatest values passing, each with whether it passes itself
  let lo = Number.NEGATIVE_INFINITY;
  let loIn = false;
  let hi = Number.POSITIVE_INFINITY;
  let hiIn = false;
  const above = (x: number, inclusive: boolean) => {
    if (x > lo || (x === lo && !inclusive)) [lo, loIn] = [x, inclusive];
  };
  const below = (x: number, inclusive: boolean) => {
    if (x < hi || (x === hi && !inclusive)) [hi, hiIn] = [x, inclusive];
  };
  if (test.$gt !== undefined) integer ? above(Math.floor(test.$gt) + 1, true) : above(test.$gt, false);
  if (test.$gte !== undefined) above(integer ? Math.ceil(test.$gte) : test.$gte, true);
  if (test.$lt !== undefined) integer ? below(Math.ceil(test.$lt) - 1, true) : below(test.$lt, false);
  if (test.$lte !== undefined) below(integer ? Math.floor(test.$lte) : test.$lte, true);
  const passes = (v: number) => (v > lo || (v === lo && loIn)) && (v < hi || (v === hi && hiIn));
  const empty = lo > hi || (lo === hi && !(loIn && hiIn)) || (test.$eq !== undefined && !passes(test.$eq));
  if (!empty) return null;
  const ops = (["$eq", "$gt", "$gte", "$lt", "$lte"] as const)
    .filter((op) => test[op] !== undefined)
    .map((op) => `${op} ${test[op]}`)
    .join(", ");
  // bounds the wrong way round mean "either side": that is an $or of two tests
  const wrap =
    lo <= hi
      ? ""
      : fact === "localHour"
        ? ` (hours across midnight: "$or": [{"localHour": {"$gte": 18}}, {"localHour": {"$lt": 6}}])`
        : ` (either side of a range: "$or" of two tests)`;
  return `no value passes ${ops} at once: this test never holds${wrap}`;
}

/**
 * Why the operators of one test leave no value passing them all, beyond a number test's bounds (contradiction), or
 * null: `$exists: false` holds only for an unknown fact, which every other operator fails (`{"$exists": false,
 * "$lt": 1}` meant "none or unknown": an `$or`); the values `$eq` and `$in` allow, less those `$ne` and `$nin` refuse
 * (and, on a number, outside its bounds), may be none; on a set, `$all` and `$nin` sharing a value, or every value
 * of `$in` refused by `$nin`.
 */
function incompatible(fact: Fact, test: NumberTest | StringTest | SetTest): string | null {
  const ops = Object.entries(test).filter(([, v]) => v !== undefined);
  if (test.$exists === false && ops.length > 1)
    return `$exists false holds only where ${fact} is unknown, which no other operator of the test passes: this test never holds (for "none or unknown", an "$or" of two tests)`;
  const refused = new Set<unknown>([...("$nin" in test && test.$nin ? test.$nin : [])]);
  if (FACTS[fact] === "set") {
    const t = test as SetTest;
    if (t.$all?.some((v) => refused.has(v)))
      return `$all and $nin name the same value: no ${fact} has it and lacks it, this test never holds`;
    if (t.$in?.every((v) => refused.has(v))) return `every value $in names, $nin refuses: this test never holds`;
    return null;
  }
  const t = test as NumberTest | StringTest;
  if (t.$ne !== undefined) refused.add(t.$ne);
  let allowed: unknown[] | null = t.$in ? [...t.$in] : null;
  if (t.$eq !== undefined) allowed = allowed ? allowed.filter((v) => v === t.$eq) : [t.$eq];
  if (allowed === null) return null;
  const n = t as NumberTest;
  const inBounds = (v: unknown) =>
    typeof v !== "number" ||
    ((n.$gt === undefined || v > n.$gt) &&
      (n.$gte === undefined || v >= n.$gte) &&
      (n.$lt === undefined || v < n.$lt) &&
      (n.$lte === undefined || v <= n.$lte));
  if (allowed.some((v) => !refused.has(v) && inBounds(v))) return null;
  const names = ops.filter(([op]) => op !== "$exists").map(([op]) => op);
  return `no value passes ${names.join(", ")} at once: this test never holds`;
}

/**
 * The values a test on `fact` may pass when they are few enough to try each: a closed set of strings (a weekday), the
 * whole numbers between its bounds and its fact's range (an hour, a purchase count), or the one number they leave;
 * null: too many (a `$ne` and a `$nin` refuse at most MAX_VALUES + 1 of them).
 */
function fewValues(fact: Fact, test: NumberTest | StringTest | SetTest): readonly unknown[] | null {
  const closed = CLOSED_VALUES[fact];
  if (closed) return closed;
  if (FACTS[fact] !== "number") return null;
  const range = NUMBER_RANGES[fact];
  const t = test as NumberTest;
  const lo = Math.max(
    range?.min ?? Number.NEGATIVE_INFINITY,
    t.$gt ?? Number.NEGATIVE_INFINITY,
    t.$gte ?? Number.NEGATIVE_INFINITY,
  );
  const hi = Math.min(
    range?.max ?? Number.POSITIVE_INFINITY,
    t.$lt ?? Number.POSITIVE_INFINITY,
    t.$lte ?? Number.POSITIVE_INFINITY,
  );
  if (!range?.integer) return lo === hi ? [lo] : null;
  if (!(hi - lo <= MAX_VALUES + 1)) return null;
  const out: number[] = [];
  for (let v = Math.ceil(lo); v <= hi; v++) out.push(v);
  return out;
}

/**
 * Why `$ne` and `$nin` refuse every value a test's other operators leave of a fact that takes few (fewValues), or null:
 * `{"localHour": {"$gte": 22, "$nin": [22, 23]}}`, a `weekday` `$nin` naming all seven.
 */
function noneLeft(fact: Fact, test: NumberTest | StringTest | SetTest): string | null {
  if (!("$ne" in test && test.$ne !== undefined) && test.$nin === undefined) return null;
  const values = fewValues(fact, test);
  if (values === null) return null;
  const ops = Object.entries(test).filter(([op, v]) => op !== "$exists" && v !== undefined);
  if (values.some((v) => ops.every(([op, operand]) => opHolds(op, operand, v as Facts[Fact])))) return null;
  return `no value ${fact} takes passes ${ops.map(([op]) => op).join(", ")} at once: this test never holds`;
}

/**
 * Tests on number facts that name a value the fact never takes (`$eq`, `$ne`, `$in`, `$nin`), or that no value
 * it takes passes (`$gt`, `$gte`, `$lt`, `$lte`): checked where a campaign is saved, as the closed string values
 * are, so a block is not left never to match; and tests whose operators contradict one another (`$gte 18, $lt 6`).
 * (Not in ConditionSchema: stored campaigns are read as they are.)
 */
export function conditionProblems(cond: Condition, at: (string | number)[] = []): ConditionProblem[] {
  const out: ConditionProblem[] = [];
  for (const [fact, range] of Object.entries(NUMBER_RANGES)) {
    const test = cond[fact as Fact] as NumberTest | undefined;
    if (!test || !range) continue;
    const takes = (v: number) => v >= range.min && v <= range.max && (!range.integer || Number.isInteger(v));
    for (const [op, operand] of Object.entries(test)) {
      if (op === "$exists" || operand === undefined) continue;
      const x = operand as number;
      const never =
        op === "$gt"
          ? x >= range.max
          : op === "$gte"
            ? x > range.max
            : op === "$lt"
              ? x <= range.min
              : op === "$lte"
                ? x < range.min
                : (Array.isArray(operand) ? (operand as number[]) : [x]).some((v) => !takes(v));
      if (never) {
        const message =
          op === "$eq" || op === "$ne" || op === "$in" || op === "$nin"
            ? `${fact} is ${range.what}: names a value it never takes`
            : `${fact} is ${range.what}: this test never holds`;
        out.push({ path: [...at, fact, op], message });
      }
    }
  }
  // the request's country is two capitals (core: cfSignals), or Cloudflare's own XX (unknown) and T1 (Tor): `uk`
  // or `UK` would never match (the UK is GB)
  for (const [op, operand] of Object.entries((cond.country ?? {}) as StringTest)) {
    if (op === "$exists") continue;
    const values: unknown[] = Array.isArray(operand) ? operand : [operand];
    const bad = values.filter((v) => typeof v !== "string" || !COUNTRY_CODE.test(v) || v === "UK");
    if (bad.length > 0)
      out.push({
        path: [...at, "country", op],
        message: `country is an ISO 3166 code in capitals, such as GB or DE (the United Kingdom is GB): names ${bad
          .map((v) => JSON.stringify(v))
          .join(", ")}, a value it never takes`,
      });
  }
  for (const fact of FACT_NAMES) {
    const test = cond[fact] as NumberTest | StringTest | SetTest | undefined;
    if (!test) continue;
    // (an operator its fact never passes is said above, once)
    const said = out.some((p) => p.path.length === at.length + 2 && p.path[at.length] === fact);
    const message =
      (FACTS[fact] === "number" ? contradiction(fact, test as NumberTest) : null) ??
      incompatible(fact, test) ??
      (said ? null : noneLeft(fact, test));
    if (message) out.push({ path: [...at, fact], message });
  }
  for (const [i, c] of (cond.$and ?? []).entries()) out.push(...conditionProblems(c, [...at, "$and", i]));
  for (const [i, c] of (cond.$or ?? []).entries()) out.push(...conditionProblems(c, [...at, "$or", i]));
  if (cond.$not) out.push(...conditionProblems(cond.$not, [...at, "$not"]));
  return out;
}
