/**
 * Real-time events as the API accepts them (POST /v1/events, the pixel, the batch importer), validated
 * with zod. User ids are pseudonymous: anything shaped like an email address is refused, and so is an event id or
 * campaign shaped like one (both are stored as they are: seen ids, dedup tables, dead letters).
 */
import { z } from "zod";
import { cutWhole } from "./cut-text";
import type { ExposureFacts } from "./experiments/exposure";
import type { Consent } from "./profile";
import type { ScannerReason } from "./reasons";
import { refuseProtoKey } from "./record-keys";

export const EVENT_TYPES = [
  "view",
  "cart_add",
  "cart_remove",
  "purchase",
  "email_open",
  "email_click",
  "custom",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Types that name an item. */
export const ITEM_EVENTS: ReadonlySet<EventType> = new Set([
  "view",
  "cart_add",
  "cart_remove",
  "purchase",
  "email_click",
]);

/** Longest id (user, item, event) accepted anywhere; checked before any other check on the string. */
export const MAX_ID_LENGTH = 128;
/**
 * Bound on every number from outside (prices, quantities, values): finite and at most this in magnitude,
 * so sums in a profile (monetary value) stay finite. Order values are clamped to [0, MAX_ORDER_VALUE].
 */
export const MAX_INPUT_NUMBER = 1e9;
export const MAX_ORDER_VALUE = 1e9;

/** Whether a string holds a control character (CR, LF, NUL...): such ids would break keys, logs and headers. */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

const WHITESPACE = /\s/;

const DIGITS_AND_DOTS = /^[0-9.]+$/;

/** Percent-encodings of `@` and `.`, also encoded again (`%2540`): linear, as `(?:25)*` cannot backtrack. */
const ENCODED_AT = /%(?:25)*40/gi;
const ENCODED_DOT = /%(?:25)*2e/gi;
/** Full stops IDNA reads as dots (UTS 46), which NFKC leaves: ideographic (also from halfwidth, by NFKC). */
const IDEOGRAPHIC_DOT = /\u3002/g;

/**
 * An id as a reader of it would see it, for looksLikeEmail: NFKC folds the look-alikes of `@` (fullwidth U+FF20,
 * small U+FE6B) and of `.` (fullwidth U+FF0E, small U+FE52, one dot leader U+2024) into them, the ideographic
 * full stop becomes a dot, and percent-encoded ones are decoded (`jane%40example.com`, what a URL-encoded address
 * left undecoded holds). The id itself is stored as sent: this only decides whether it names a mailbox.
 */
function asWritten(id: string): string {
  return id.normalize("NFKC").replace(ENCODED_AT, "@").replace(ENCODED_DOT, ".").replace(IDEOGRAPHIC_DOT, ".");
}

/**
 * Shaped like an email address (`local@domain.tld`, no whitespace, one `@`): the same language as
 * /^[^\s@]+@[^\s@]+\.[^\s@]+$/ after trimming, decided in one linear pass (that regex backtracks
 * quadratically on long inputs), less a domain of digits and dots alone: no top-level domain is all digits
 * (RFC 3696 section 2), so `click@1700000000.5`, an app's event id, names no mailbox, while
 * `jane@example.com.1700000000` (an address with a suffix) is still refused. Read as written (asWritten): an
 * address behind a look-alike `@` or its percent-encoding (`jane＠example.com`, `jane%40example.com`) is one too.
 */
export function looksLikeEmail(id: string): boolean {
  return looksLikeEmailAsSent(asWritten(id));
}

/** looksLikeEmail of the id as sent, its look-alikes left as they are (HeldUserIdSchema). */
export function looksLikeEmailAsSent(id: string): boolean {
  const s = id.trim();
  const at = s.indexOf("@");
  if (at <= 0 || s.indexOf("@", at + 1) !== -1 || WHITESPACE.test(s)) return false;
  const domain = s.slice(at + 1);
  const dot = domain.indexOf(".", 1);
  if (dot === -1 || dot >= domain.length - 1) return false;
  return !DIGITS_AND_DOTS.test(domain);
}

/**
 * An id from outside: 1..128 characters (code points, as zod counts them; checked first, aborting), no control
 * characters, well-formed Unicode.
 * A lone surrogate (`"\ud800"` in JSON) has no UTF-8 form: KV refuses every key holding it (the reader's
 * snapshot would never be written, its shard retrying it each second), a URL cannot name it (no right of
 * access, no erasure), and hashing it (the erasure tombstone) reads it as U+FFFD, another reader's id.
 */
export const IdSchema = z
  .string()
  .min(1, { abort: true })
  .max(MAX_ID_LENGTH, { abort: true })
  .refine((s) => !hasControlCharacter(s), { message: "must not contain control characters" })
  .refine((s) => s.isWellFormed(), { message: "must be well-formed Unicode (no lone surrogate)" });

/**
 * A new user id is at most MAX_ID_LENGTH UTF-16 units, as its token's claim is (core/token.ts validClaims), where
 * IdSchema's bound counts code points (zod's): an id of 128 characters beyond U+FFFF (emoji) is 512 bytes of UTF-8,
 * and the KV keys that hold it (`profile:<user>`, `decision:<user>:...`) would pass KV's 512 bytes, so the reader's
 * snapshot could never be written. 128 units are 384 bytes at most. A held id (HeldUserIdSchema) keeps IdSchema's
 * bound: one stored before must still be reachable by the right of access and erasure.
 */
const KEY_SAFE_MESSAGE = `must be at most ${MAX_ID_LENGTH} UTF-16 units (a character beyond U+FFFF, such as an emoji, counts as two): user ids are part of KV keys, which hold 512 bytes`;

/**
 * A user id is pseudonymous, and one a URL can name: `.` and `..` (escaped or not) are dot segments that URL parsing
 * resolves away, so `/v1/users/<id>` (right of access, consent, erasure) could never reach such a reader.
 */
export const UserIdSchema = userIdSchema(true);

/**
 * A user id an earlier version may have stored: one shaped like an email address only through a look-alike `@`
 * or `.` or an encoded one (`jane%40example.com`: looksLikeEmail's asWritten), which versions before it took, is
 * one the right of access and erasure must still reach (GET and DELETE /v1/users/<id>); nothing else takes it.
 */
export const HeldUserIdSchema = userIdSchema(false);

function userIdSchema(readAsWritten: boolean) {
  return IdSchema.refine((id) => !readAsWritten || id.length <= MAX_ID_LENGTH, { message: KEY_SAFE_MESSAGE })
    .refine((id) => !(readAsWritten ? looksLikeEmail(id) : looksLikeEmailAsSent(id)), {
      message:
        "user ids must be pseudonymous: hash email addresses with a secret salt (see README) before sending them",
    })
    .refine((id) => id !== "." && id !== "..", {
      message: "must not be '.' or '..': a URL cannot name them (/v1/users/<id>)",
    });
}

/**
 * An id other than the user's that is stored as it is (an event's `id`: the profile's seen ids, the dedup tables,
 * dead letters, experiment rows; its `campaign`: dead letters): never shaped like an email address either, as an app
 * keying its events by the customer's address (`jane@example.com:1700000000`) would make it. Campaign ids hold no
 * `@` (core/campaign.ts), and event ids need none.
 */
export const StoredIdSchema = IdSchema.refine((id) => !looksLikeEmail(id), {
  message:
    "must not be shaped like an email address: ids are stored as they are, and hold no personal data (see README)",
});

/**
 * The pixel's event ids (`GET /v1/e/`, worker/routes/pixel.ts): `pixel:` and its `eid`, or a random one. Anyone
 * holding an email can mint them, so the reader's shard keeps them 30 days, their newest 1,000
 * (worker/state/applied-table.ts), where every other id is kept for good; the events API refuses an id of its own
 * that begins so, which would be deduplicated as the pixel's are, and could take a pixel event's place.
 */
export const PIXEL_ID_PREFIX = "pixel:";

export function isPixelId(id: string): boolean {
  return id.startsWith(PIXEL_ID_PREFIX);
}

/**
 * The ids of consent changes made with an email's preferences form (worker/profile/consent-update.ts). Anyone who
 * holds the email can make them (a forward), so such a change never ends an erasure (worker/state/tombstone-table.ts
 * turnsOn): a reader comes back by the shop's own consent API, when they sign in again and agree.
 */
export const EMAIL_PREFERENCES_ID_PREFIX = "preferences:";

export function isEmailPreferencesId(id: string): boolean {
  return id.startsWith(EMAIL_PREFERENCES_ID_PREFIX);
}

/** The fields of an event that StoredIdSchema checks: what a refusal for an email address names. */
export const STORED_ID_FIELDS = ["id", "campaign"] as const;

/** An ISO 4217 code as events may give it (`gbp` is read as `GBP`). */
export function isCurrencyCode(v: unknown): v is string {
  return typeof v === "string" && /^[A-Za-z]{3}$/.test(v);
}

/** A number from outside: finite and within +-MAX_INPUT_NUMBER. */
export const InputNumberSchema = z.number().min(-MAX_INPUT_NUMBER).max(MAX_INPUT_NUMBER);

/**
 * An ISO-8601 / RFC 3339 date, or date and time with an optional zone (`Z`, `+01:00`, `+0100`); RFC 3339's `t`,
 * `z` and a space for the `T` (Python's `str(datetime)`, SQL's DATETIME) too.
 */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Unix milliseconds of an ISO-8601 string, NaN for anything else: `Date.parse` alone takes far more (`"1"` is a
 * day of 2001, `"Dec 3 2026"` a local date) and rolls impossible dates over (`2026-02-31` is 3 March). A time
 * without a zone is UTC, wherever this runs.
 */
function isoMillis(ts: string): number {
  const m = ISO_8601.exec(ts);
  if (!m) return Number.NaN;
  const [, year, month, day, hour = "0", minute = "0", second = "0", zone] = m;
  // setUTCFullYear, not Date.UTC, which reads the years 0-99 as 1900-1999 (.NET's DateTime.MinValue,
  // `0001-01-01T00:00:00`, would be no day at all rather than a time out of range)
  const civil = new Date(0);
  civil.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  const real =
    civil.getUTCFullYear() === Number(year) &&
    civil.getUTCMonth() === Number(month) - 1 &&
    civil.getUTCDate() === Number(day) &&
    Number(hour) < 24 &&
    Number(minute) < 60 &&
    Number(second) < 60;
  if (!real) return Number.NaN;
  const canonical = `${ts.slice(0, 10)}${ts.length > 10 ? `T${ts.slice(11).toUpperCase()}` : ""}`;
  return Date.parse(ts.length > 10 && zone === undefined ? `${canonical}Z` : canonical);
}

const TS_MESSAGE = "must be unix seconds or milliseconds (a number), or an ISO-8601 date (2026-11-22T10:00:00Z)";

/** Unix milliseconds of an ISO-8601 time with its zone, read as isoMillis reads it; NaN for a date alone, or no zone. */
export function zonedIsoMillis(ts: string): number {
  const m = ISO_8601.exec(ts);
  return m?.[4] !== undefined && m[7] !== undefined ? isoMillis(ts) : Number.NaN;
}

const ZONED_MESSAGE =
  "must be an ISO-8601 time with its zone, as a string (2026-11-22T10:00:00Z, 2026-11-22T11:00:00+01:00)";

/**
 * A time as the events API reads an ISO `ts` (isoMillis: RFC 3339's `t`, `z` and a space for the `T`, `+0100`,
 * impossible dates refused), but with its time and zone: where times are compared with each other (the live
 * catalog's `at`), a date alone or a time in no zone would be hours off. Stays a string; zonedIsoMillis reads it.
 */
export const ZonedTimeSchema = z
  .string({ error: ZONED_MESSAGE })
  .max(64, { error: ZONED_MESSAGE, abort: true })
  .refine((ts) => !Number.isNaN(zonedIsoMillis(ts)), { message: ZONED_MESSAGE });

/**
 * Warnings of an accepted event (the events API's `warnings`, by index): a closed list. `PURCHASE_WITHOUT_VALUE`:
 * a purchase with neither `properties.value` nor `price`, taken (it still cancels a cart's trigger, counts as a
 * conversion, feeds the model) and counted as worth 0 in the order value and the experiments' revenue.
 */
export const EVENT_WARNINGS = ["PURCHASE_WITHOUT_VALUE"] as const;
export type EventWarning = (typeof EVENT_WARNINGS)[number];

/** What an accepted event should be told (null: nothing). */
export function eventWarning(e: QueuedEvent): { code: EventWarning; message: string } | null {
  if (e.type !== "purchase" || e.value !== undefined) return null;
  return {
    code: "PURCHASE_WITHOUT_VALUE",
    message: "accepted, worth 0: neither properties.value nor properties.price (x quantity) was given",
  };
}

/** The fields of an event; anything else at its top level is refused (unknownFieldMessage). */
export const EVENT_FIELDS = ["id", "type", "user", "item", "ts", "campaign", "properties"] as const;

/**
 * Where a field sent at an event's top level belongs, for the names integrations send there by mistake: the
 * purchase's value fields and `currency` are properties; ids and times other platforms name otherwise are fields.
 */
const FIELD_HOMES: Readonly<Record<string, string>> = {
  value: "properties.value",
  price: "properties.price",
  quantity: "properties.quantity",
  currency: "properties.currency",
  revenue: "properties.value",
  amount: "properties.value",
  total: "properties.value",
  event_id: "id",
  eventId: "id",
  event: "type",
  event_type: "type",
  eventType: "type",
  // GA4 names an event's kind `name`; a product's name is a property
  name: "type (the event's kind), or in properties (a product's name)",
  user_id: "user",
  userId: "user",
  customer: "user",
  customer_id: "user",
  item_id: "item",
  itemId: "item",
  product: "item",
  product_id: "item",
  productId: "item",
  sku: "item",
  timestamp: "ts",
  time: "ts",
  created_at: "ts",
  campaign_id: "campaign",
  campaignId: "campaign",
  props: "properties",
};

/** The longest field name an answer repeats (a name comes from the request: cut with "…"). */
const SHOWN_FIELD_CHARS = 40;

/**
 * Why an event with fields the API does not read is refused: each named (the first three), with where it belongs.
 * A field no version read was dropped unread before, and with it what it held (a purchase's top-level `value`, a
 * misspelt `campaign`): an event is kept once by its id, so one taken without it could never be mended by sending
 * it again; refused, it can.
 */
export function unknownFieldMessage(keys: readonly string[]): string {
  const named = keys.slice(0, 3).map((k) => {
    const shown = k.length > SHOWN_FIELD_CHARS ? `${cutWhole(k, SHOWN_FIELD_CHARS)}…` : k;
    const home = Object.hasOwn(FIELD_HOMES, k) ? FIELD_HOMES[k] : undefined;
    return home
      ? `unknown field "${shown}": it belongs in ${home}`
      : `unknown field "${shown}": a property goes in properties`;
  });
  const count = keys.length > named.length ? `${keys.length} unknown fields, the first ${named.length}: ` : "";
  return `${count}${named.join("; ")} (the fields: ${EVENT_FIELDS.join(", ")})`;
}

/** The longest property name, and the longest text a property holds. */
const MAX_PROPERTY_NAME = 64;
const MAX_PROPERTY_TEXT = 512;

/** What a JSON value is, as a refusal names it: `null`, `an array`, `an object`. */
function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** Whether a property holds a kind it may (their bounds: PropertyValueSchema). */
function isPropertyKind(v: unknown): boolean {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

const PropertyValueSchema = z.union([z.string().max(MAX_PROPERTY_TEXT), InputNumberSchema, z.boolean()]);

/** Whether a value of a property's kind is in its bounds as PropertyValueSchema judges them, without its issues. */
function withinBounds(v: string | number | boolean): boolean {
  if (typeof v === "string") {
    // zod measures text in code points (a string that fits in UTF-16 units fits in them)
    if (v.length <= MAX_PROPERTY_TEXT) return true;
    let points = 0;
    for (const _ of v) if (++points > MAX_PROPERTY_TEXT) return false;
    return true;
  }
  if (typeof v === "number") return Number.isFinite(v) && v >= -MAX_INPUT_NUMBER && v <= MAX_INPUT_NUMBER;
  return true;
}

/** Properties refused named one by one in a refusal; past them, one issue counts the rest of each sort. */
const NAMED_BAD_PROPERTIES = 4;

/**
 * An event's properties: flat, each a string, a number or a boolean. A value of no such kind (`null`, a purchase's
 * line items as an array) is refused saying what it is, and one of such a kind out of its bounds (text over 512
 * characters, a number beyond +-1e9) in zod's words, found by a look at each value before the record is parsed (a
 * pipe parses nothing past an issue), the first NAMED_BAD_PROPERTIES named and the rest counted: zod's union tried its
 * three kinds on each refused value and built issues for each, so 1 MiB of `"a":null` cost over a second of CPU (a
 * flat MiB's parse: 30 ms), `"a":1e10` (as short) 4-6 times the same MiB of numbers taken, and its words, "Invalid
 * input", named no rule. A name too long says the limit (zod's: "Invalid key in record").
 */
const PropertiesSchema = z.preprocess(
  (raw, ctx) => {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
    let bad = 0;
    let noKind = 0;
    let outOfBounds = 0;
    for (const [name, v] of Object.entries(raw)) {
      const kind = isPropertyKind(v);
      if (kind && withinBounds(v as string | number | boolean)) continue;
      if (++bad > NAMED_BAD_PROPERTIES) {
        if (kind) outOfBounds++;
        else noKind++;
        continue;
      }
      if (!kind) {
        const message = `must be a string, a number or a boolean, not ${kindOf(v)}: properties are flat`;
        ctx.addIssue({ code: "custom", path: [name], message, input: v });
        continue;
      }
      // zod's own words for the first ones (one value's union: cheap)
      const parsed = PropertyValueSchema.safeParse(v);
      for (const issue of parsed.error?.issues ?? []) ctx.addIssue({ ...issue, path: [name, ...issue.path] });
    }
    const properties = (n: number) => `${n} more propert${n === 1 ? "y" : "ies"}`;
    if (noKind > 0)
      ctx.addIssue({
        code: "custom",
        path: [],
        message: `and ${properties(noKind)} of no such kind: properties are flat`,
        input: raw,
      });
    if (outOfBounds > 0)
      ctx.addIssue({
        code: "custom",
        path: [],
        message: `and ${properties(outOfBounds)} out of bounds (text over ${MAX_PROPERTY_TEXT} characters, a number beyond +-1e9)`,
        input: raw,
      });
    return raw;
  },
  z.record(z.string().max(MAX_PROPERTY_NAME), PropertyValueSchema, {
    error: (issue) =>
      issue.code === "invalid_key" ? `a property name is at most ${MAX_PROPERTY_NAME} characters` : undefined,
  }),
);

/** The properties a purchase's value is read from (toQueued): text there would count as no value, 0. */
const PURCHASE_VALUE_FIELDS = ["value", "price", "quantity"] as const;

export const IncomingEventSchema = z
  .strictObject(
    {
      /** unique per event: duplicates and replays are counted once */
      id: StoredIdSchema.refine((id) => !isPixelId(id), {
        message: `must not begin with '${PIXEL_ID_PREFIX}': those are the pixel's own ids (GET /v1/e/), kept 30 days`,
      }),
      type: z.enum(EVENT_TYPES),
      // an id the shop's backend padded (` c0000042 `, a CSV cell read as it is) would be another reader: their history
      // split in two, unsaid. Refused here, where ids arrive; the routes that name a reader already stored take any
      user: UserIdSchema.refine((id) => id.trim() === id, {
        message: "must not begin or end with a space: ' c0000042 ' and 'c0000042' would be two readers",
      }),
      item: IdSchema.optional(),
      /** unix seconds, unix milliseconds, or an ISO-8601 date (a string that is no date is refused: not out of range) */
      // one message for every way a time is not one (missing, null, microseconds, text that is no date)
      ts: z
        .union([z.number().min(0, { error: TS_MESSAGE }).max(1e14, { error: TS_MESSAGE }), z.string().max(64)], {
          error: TS_MESSAGE,
        })
        .refine((ts) => typeof ts === "number" || !Number.isNaN(isoMillis(ts)), { message: TS_MESSAGE }),
      campaign: StoredIdSchema.optional(),
      // a property `__proto__` is refused, not dropped unchecked (core/record-keys.ts)
      properties: refuseProtoKey(PropertiesSchema, "a property name").optional(),
    },
    // a field the API does not read is refused, named, with where it belongs: never dropped with what it held
    { error: (issue) => (issue.code === "unrecognized_keys" ? unknownFieldMessage(issue.keys) : undefined) },
  )
  .refine((e) => !ITEM_EVENTS.has(e.type) || e.item !== undefined, {
    message: "this event type needs an item",
    path: ["item"],
  })
  .superRefine((e, ctx) => {
    if (e.type !== "purchase") return;
    for (const field of PURCHASE_VALUE_FIELDS) {
      const v = e.properties?.[field];
      if (v === undefined || typeof v === "number") continue;
      ctx.addIssue({
        code: "custom",
        path: ["properties", field],
        message: `must be a number (got a ${typeof v}): a purchase's value is properties.value, else price x quantity`,
      });
    }
  })
  .refine(
    (e) => e.type !== "purchase" || e.properties?.currency === undefined || isCurrencyCode(e.properties.currency),
    {
      message: "must be an ISO 4217 currency code, three letters (GBP, EUR, ...): the currency of properties.value",
      path: ["properties", "currency"],
    },
  );
export type IncomingEvent = z.infer<typeof IncomingEventSchema>;

/**
 * What goes on the queue: a validated event, or an internal `consent` change (from the admin API or the
 * email's form). Every profile write goes through the one consumer, so none can overwrite another.
 */
export interface QueuedEvent {
  id: string;
  /**
   * `consent`, `impression`, `exposure`, `assignment` and `scanner_click` (a click the click route took for a link
   * scanner's: never a reader's click) are internal: the API never accepts them
   */
  type: EventType | "consent" | "impression" | "exposure" | "assignment" | "scanner_click";
  user: string;
  item?: string;
  /** for `impression` and internal `email_open` messages: the items an email showed (at most 24) */
  items?: string[];
  /**
   * with `items`, and on the click route's clicks: the email that showed them or was clicked, `<campaign>:<token
   * expiry>.<nonce>` (core/token.ts sendKey; internal messages only)
   */
  send?: string;
  /**
   * on the click route's clicks: when the request reached the edge (unix ms), so that the reader's shard can tell
   * a burst of clicks on different slots of one email (core/click-bursts.ts)
   */
  atMs?: number;
  /** on the click route's clicks: from a network link scanners run in, or with no user agent (classify-click.ts) */
  suspect?: boolean;
  /** on `scanner_click` events: why the click was taken for a link scanner's */
  scanner?: ScannerReason;

  ts: number;
  campaign?: string;
  /** order value for purchases (properties.value, or price x quantity) */
  value?: number;
  /**
   * for purchases: the currency of `value` (properties.currency, upper case), when the event gave one; reports
   * never add values of different currencies
   */
  currency?: string;
  /** for `consent` messages: the fields to set */
  consent?: Partial<Omit<Consent, "updatedAt">>;
  /**
   * for `exposure` messages: the experiment and the arm the open was served; for `assignment` messages, the arm
   * a send chose (its subject line) (core/experiments/exposure.ts)
   */
  exposure?: ExposureFacts;
  /**
   * for clicks from the image routes: the exposures of the open the click followed, recorded with the click
   * before it is attributed (a click shows the email was opened, its images perhaps blocked)
   */
  exposures?: ExposureFacts[];
  /** for clicks from the email routes: the slot clicked (`row-0`, `amp`), for per-slot reporting */
  slot?: string;
}

export function eventTime(ts: number | string): number {
  if (typeof ts === "number") return ts > 1e12 ? Math.floor(ts / 1000) : Math.floor(ts);
  return Math.floor(isoMillis(ts) / 1000);
}

export function toQueued(e: IncomingEvent): QueuedEvent {
  const p = e.properties ?? {};
  const raw =
    typeof p.value === "number"
      ? p.value
      : typeof p.price === "number"
        ? p.price * (typeof p.quantity === "number" ? p.quantity : 1)
        : undefined;
  const value = raw === undefined ? undefined : Math.min(MAX_ORDER_VALUE, Math.max(0, raw));
  const currency = e.type === "purchase" && isCurrencyCode(p.currency) ? p.currency.toUpperCase() : undefined;
  return {
    id: e.id,
    type: e.type,
    user: e.user,
    item: e.item,
    ts: eventTime(e.ts),
    campaign: e.campaign,
    value,
    ...(currency !== undefined && { currency }),
  };
}
