/**
 * fast-check generators for the route fuzz suite: hostile text, tokens (valid, expired, forged, truncated,
 * tampered, validly signed hostile claims), header sets, query strings, JSON bodies (deep nesting, huge
 * arrays, NaN/Infinity/1e308 as text, control characters) and one request generator per route.
 * Generators are pure and synchronous; anything async (signing tokens) happens when a request is built.
 */
import fc from "fast-check";
import { EVENT_TYPES } from "../../../core/events";
import { LAYOUTS } from "../../../core/layouts";
import type { FuzzRouteName } from "../../../scripts/fuzz/route-names";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY } from "../fixture";

/** Raw JSON text spliced into a body as is (NaN, 1e309, deep nesting): JSON.stringify cannot write it. */
export class Raw {
  constructor(readonly text: string) {}
  toJSON(): string {
    return `<raw ${this.text.length > 60 ? `${this.text.slice(0, 60)}... (${this.text.length} chars)` : this.text}>`;
  }
}
export type JsonIsh = null | boolean | number | string | Raw | JsonIsh[] | { [key: string]: JsonIsh };

export function jsonText(v: JsonIsh): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(jsonText).join(",")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

/** A huge value shows up in counterexamples as its shape, not its 300,000 characters. */
export class Huge {
  readonly text: string;
  constructor(
    readonly label: string,
    make: () => string,
  ) {
    this.text = make();
  }
  toJSON(): string {
    return `<${this.label}: ${this.text.length} chars>`;
  }
  toString(): string {
    return this.text;
  }
}
const huge = (label: string, make: () => string) => new Huge(label, make);

export const NOW = Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------- text

const SPECIAL = [
  "\r",
  "\n",
  "\r\n",
  "\0",
  "\t",
  "\u0001",
  "\u001f",
  "\u007f",
  "\u0085",
  "%",
  "%0d%0a",
  "%00",
  "%ZZ",
  "%2F",
  "/",
  "\\",
  "..",
  ":",
  "@",
  "?",
  "#",
  "&",
  "=",
  "+",
  " ",
  ".",
  ",",
  ";",
  "<",
  ">",
  '"',
  "'",
  "{{",
  "}}",
  "\u2028",
  "\ud800",
  "\udfff",
  "\u202e",
  "\ufeff",
  "\u00e9",
  "\u4e2d",
  "\u{1f600}",
  "e\u0301",
];
const unit = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }) },
);
const ASCII_SPECIAL = SPECIAL.filter((c) => [...c].every((ch) => ch.charCodeAt(0) < 0x80));
const asciiUnit = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.constantFrom(...ASCII_SPECIAL) },
);
/**
 * Header text: ASCII with controls, CR/LF and percent signs. Unicode header values come from a short list
 * and rarely: workerd prints a warning to stderr for each one it sends.
 */
export const headerText = (maxLength = 24) =>
  fc.oneof(
    { weight: 150, arbitrary: fc.string({ unit: asciiUnit, maxLength }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("\u00e9t\u00e9", "\u4e2d\u6587", "\u{1f600}", "caf\u00e9@opentime.example"),
    },
  );

/** Short text mixing ASCII, CR/LF and other controls, percent signs, lone surrogates and unicode. */
export const hostileText = (maxLength = 24, minLength = 0) => fc.string({ unit, minLength, maxLength });

const HUGE_TEXT = [
  huge("x*300000", () => "x".repeat(300_000)),
  huge("unicode*20000", () => "\u4e2d\u{1f600}".repeat(20_000)),
  huge("crlf*5000", () => "a\r\n".repeat(5_000)),
];
/** Hostile text, and now and then one of the huge values (kept rare: 10,000 requests must fit in 60 s). */
export const hostileOrHuge = (maxLength = 24) =>
  fc.oneof(
    { weight: 60, arbitrary: hostileText(maxLength) },
    { weight: 1, arbitrary: fc.constantFrom(...HUGE_TEXT).map((h) => h.text) },
  );

/** Lone surrogates replaced, so encodeURIComponent cannot throw (the URL parser does the same). */
export function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}
export const enc = (s: string) => encodeURIComponent(wellFormed(s));

// ---------------------------------------------------------------- user ids and tokens

/** Readers with a profile and factors in the seeded model: their tokens take the personalized path. */
export const PROFILE_USERS: string[] = [];
export const CATALOG_ITEMS: string[] = [];

const REDOS_DOTS = huge("a@ + '.'*20000 + @", () => `a@${".".repeat(20_000)}@`);
const HUGE_USER = [
  huge("u*300000", () => "u".repeat(300_000)),
  huge("a@ + '.'*300000 + @", () => `a@${".".repeat(300_000)}@`),
  REDOS_DOTS,
  huge("u*129", () => "u".repeat(129)),
  huge("u*700", () => "u".repeat(700)),
];

export const userId = fc.oneof(
  { weight: 6, arbitrary: fc.constant(null).map(() => PROFILE_USERS[0] ?? "u1") },
  { weight: 6, arbitrary: fc.nat().map((n) => PROFILE_USERS[n % Math.max(1, PROFILE_USERS.length)] ?? "u1") },
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z0-9_-]{1,16}$/) },
  { weight: 3, arbitrary: hostileText(32, 1) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("a:b", "a:b:c", ":", "::x", "user:1:card-0", "x:spring:row-0", "%3A", "a/b", ".."),
  },
  { weight: 1, arbitrary: fc.constantFrom("alice@example.com", " bob@shop.example ", "a@b.c", "@", "a@b") },
  { weight: 1, arbitrary: fc.constantFrom(...HUGE_USER).map((h) => h.text) },
);

const campaignId = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("test", "spring", "fz-1", "fz.badge", "fz_fallback") },
  { weight: 2, arbitrary: fc.constantFrom("", "a:b", "spring:row-0", "../x", "x".repeat(65), "\u4e2d", "a b") },
  { weight: 1, arbitrary: hostileText(20) },
);

export type TokenSpec =
  | { kind: "valid"; user: string; campaign: string }
  | { kind: "expired"; user: string; campaign: string }
  | { kind: "forged"; user: string; campaign: string }
  | { kind: "truncated"; user: string; campaign: string; keep: number }
  | { kind: "tampered"; user: string; campaign: string; as: string }
  | { kind: "signed-claims"; claims: string }
  | { kind: "raw"; text: string }
  | { kind: "none" };

/** Claims that are validly signed but not what the Worker mints: numbers, nulls, huge, extra fields. */
const hostileClaims = fc.oneof(
  fc
    .record({
      u: fc.oneof(userId, fc.constantFrom<JsonIsh>(1, null, "", [], {}, new Raw("1e309"))),
      c: fc.oneof(campaignId, fc.constantFrom<JsonIsh>(null, 7, [])),
      e: fc.oneof(
        fc.constant<JsonIsh>(NOW + 3600),
        fc.constantFrom<JsonIsh>(1e308, -1, 0, "9999999999", null, new Raw("1e309"), new Raw("NaN"), NOW + 0.5),
      ),
      v: fc.constantFrom<JsonIsh>(1, 2, "1", null),
    })
    .map((c) => jsonText(c as JsonIsh)),
  fc.constantFrom('{"u":"x"}', "null", "[]", '"x"', "{", "\u0000", `{"u":"a","c":"t","e":${NOW + 3600},"v":1,"u":"b"}`),
);

export const tokenSpec: fc.Arbitrary<TokenSpec> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant("valid" as const), user: userId, campaign: campaignId }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("expired" as const), user: userId, campaign: campaignId }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("forged" as const), user: userId, campaign: campaignId }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("truncated" as const),
      user: userId,
      campaign: campaignId,
      keep: fc.nat({ max: 200 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("tampered" as const), user: userId, campaign: campaignId, as: userId }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("signed-claims" as const), claims: hostileClaims }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("raw" as const), text: hostileOrHuge(60) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
);

// ---------------------------------------------------------------- headers

export type HeaderList = [string, string][];

/**
 * A header value as HTTP can carry it: NUL, CR and LF cannot travel in a header (a proxy would split or
 * refuse the request); anything else goes, unicode included (workerd sends it as UTF-8 bytes).
 */
export function wireHeaderValue(v: string): string {
  return wellFormed(v).replace(/[\0\r\n]/g, " ");
}

const HUGE_HEADER = [huge("a*16000", () => "a".repeat(16_000)), huge("%C3%A9\\t*2000", () => "%C3%A9\t".repeat(2_000))];
export const headerValue = fc.oneof(
  { weight: 8, arbitrary: headerText(40) },
  { weight: 1, arbitrary: fc.constantFrom(...HUGE_HEADER).map((h) => h.text) },
);
const headerName = fc.oneof(
  fc.constantFrom(
    "User-Agent",
    "Accept",
    "Accept-Language",
    "Cookie",
    "Referer",
    "X-Forwarded-For",
    "CF-Connecting-IP",
    "Content-Type",
    "If-None-Match",
    "Range",
    "X-Opentime-Reason",
  ),
  fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/),
);
export const extraHeaders: fc.Arbitrary<HeaderList> = fc.array(fc.tuple(headerName, headerValue), { maxLength: 3 });

export const ALLOWED_SENDERS = ["newsletter@shop.example", "promo@opentime.example", "NewsLetter@Shop.Example"];
const sender = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ALLOWED_SENDERS) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "a\r\nb@opentime.example",
      "a%0d%0ab@opentime.example",
      "x@evil.example",
      "@opentime.example",
      "*@opentime.example",
      "*",
      "",
      " ",
      "newsletter@shop.example\u0000",
    ),
  },
  { weight: 2, arbitrary: headerText(30) },
);
const origin = fc.oneof(
  fc.constantFrom(
    "https://mail.google.com",
    "https://amp.gmail.dev",
    "https://mail.yahoo.com",
    "null",
    "https://evil.example",
  ),
  headerText(30),
);

export type AmpAuth =
  | { v: "v2"; sender: string; origin?: string }
  | { v: "v1"; sourceOrigin: string; origin: string }
  | { v: "none"; origin?: string };
export const ampAuth: fc.Arbitrary<AmpAuth> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ v: fc.constant("v2" as const), sender }) },
  {
    weight: 1,
    arbitrary: fc.record({ v: fc.constant("v2" as const), sender, origin }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ v: fc.constant("v1" as const), sourceOrigin: sender, origin }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ v: fc.constant("none" as const), origin: fc.option(origin, { nil: undefined }) }),
  },
);

const HUGE_KEY = huge("Bearer k*20000", () => `Bearer ${"k".repeat(20_000)}`);
/** The Authorization header: the route's key (most often, so the handler runs), other keys, or hostile text. */
export const authorization = (key: string) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(`Bearer ${key}`) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        `Bearer ${key === TEST_ADMIN_KEY ? TEST_EVENTS_KEY : TEST_ADMIN_KEY}`,
        "Bearer",
        "Bearer ",
        "",
        `bearer ${key}`,
        `Bearer  ${key} `,
        `Bearer ${key}x`,
        `Bearer ${key.slice(0, -1)}`,
        `Bearer ${key},${key}`,
        `Basic ${btoa(`${key}:`)}`,
        `Bearer ${key}\t`,
        HUGE_KEY.text,
      ),
    },
    { weight: 2, arbitrary: headerText(40).map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: fc.constant(null) },
  );

// ---------------------------------------------------------------- numbers and JSON

export const hostileNumber: fc.Arbitrary<JsonIsh> = fc.oneof(
  fc.constantFrom<JsonIsh>(1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2, -0, 0, 1, 0.5, -1, 1e21),
  fc.constantFrom<JsonIsh>(
    new Raw("1e309"),
    new Raw("-1e309"),
    new Raw("NaN"),
    new Raw("Infinity"),
    new Raw("-Infinity"),
    new Raw("1e-400"),
    new Raw("0x1F"),
    new Raw("01"),
    new Raw("1."),
    new Raw("9".repeat(400)),
  ),
  fc.constantFrom<JsonIsh>("NaN", "Infinity", "1e308", "-1", "", "1e309"),
  fc.double().map((d) => d as JsonIsh),
  fc.integer().map((d) => d as JsonIsh),
);

const DEEP = [
  huge("[ * 10000", () => `${"[".repeat(10_000)}${"]".repeat(10_000)}`),
  huge('{"a": * 10000', () => `${'{"a":'.repeat(10_000)}0${"}".repeat(10_000)}`),
  huge("[ * 300000", () => `${"[".repeat(300_000)}${"]".repeat(300_000)}`),
  huge("[ * 10000 unclosed", () => "[".repeat(10_000)),
];
export const deepJson = fc.constantFrom(...DEEP).map((h) => new Raw(h.text));

/** A JSON value of any shape, hostile numbers and text at the leaves; now and then deeply nested. */
export const anyJson: fc.Arbitrary<JsonIsh> = fc.letrec<{ v: JsonIsh }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 4, arbitrary: fc.constantFrom<JsonIsh>(null, true, false) },
    { weight: 4, arbitrary: hostileNumber },
    { weight: 4, arbitrary: hostileText(20) },
    { weight: 2, arbitrary: fc.array(tie("v"), { maxLength: 4 }) },
    { weight: 2, arbitrary: fc.dictionary(hostileText(8), tie("v"), { maxKeys: 4 }) },
  ),
})).v;

const itemId = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((n) => CATALOG_ITEMS[n % Math.max(1, CATALOG_ITEMS.length)] ?? "p1") },
  { weight: 2, arbitrary: hostileOrHuge(20) },
);
const eventTs: fc.Arbitrary<JsonIsh> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3600, max: 0 }).map((d) => NOW + d) },
  { weight: 2, arbitrary: fc.integer({ min: -3600, max: 0 }).map((d) => (NOW + d) * 1000) },
  { weight: 1, arbitrary: fc.constant(new Date(NOW * 1000).toISOString()) },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom<JsonIsh>("2026-99-99", "yesterday", "", "1e308", null, [], {}) },
);
const properties: fc.Arbitrary<JsonIsh> = fc.oneof(
  fc.record(
    { price: hostileNumber, quantity: hostileNumber, value: hostileNumber, currency: hostileText(6) },
    { requiredKeys: [] },
  ),
  fc.dictionary(hostileText(10), anyJson, { maxKeys: 4 }),
  fc.constantFrom<JsonIsh>(null, [], "x", new Raw("NaN")),
);

/** An event: valid in shape most of the time, with hostile values in its fields. */
export const event: fc.Arbitrary<JsonIsh> = fc
  .record(
    {
      id: fc.oneof({ weight: 5, arbitrary: fc.uuid() }, { weight: 1, arbitrary: hostileOrHuge(20) }),
      type: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom<string>(...EVENT_TYPES) },
        { weight: 1, arbitrary: fc.constantFrom("consent", "PURCHASE", "", "__proto__") },
      ),
      user: userId,
      item: itemId,
      ts: eventTs,
      campaign: campaignId,
      properties,
    },
    { requiredKeys: ["id", "type", "user", "ts"] },
  )
  .map((e) => e as JsonIsh);

const validEvent = (i: number): JsonIsh => ({
  id: `bulk-${i}`,
  type: "view",
  user: `bulk-user-${i % 7}`,
  item: CATALOG_ITEMS[i % Math.max(1, CATALOG_ITEMS.length)] ?? "p1",
  ts: NOW,
});
const BULK = {
  over: huge("501 events", () => jsonText({ events: Array.from({ length: 501 }, (_, i) => validEvent(i)) })),
  full: huge("500 events", () => jsonText({ events: Array.from({ length: 500 }, (_, i) => validEvent(i)) })),
  zeros: huge("[0]*200000", () => `{"events":[${new Array(200_000).fill("0").join(",")}]}`),
  big: huge("1.1 MiB body", () => jsonText({ events: [validEvent(0)], pad: "p".repeat(1_100_000) })),
};

/** A batch of 500 valid events: a valid key must get it accepted whole. */
export const FULL_BATCH = BULK.full.text;

/** Bodies for POST /v1/events and /v1/admin/events. */
export const eventsBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 30, arbitrary: fc.array(event, { minLength: 1, maxLength: 4 }).map((evs) => jsonText({ events: evs })) },
  { weight: 8, arbitrary: fc.array(event, { minLength: 1, maxLength: 3 }).map((evs) => jsonText(evs)) },
  { weight: 4, arbitrary: anyJson.map(jsonText) },
  {
    weight: 4,
    arbitrary: fc.tuple(fc.array(event, { minLength: 1, maxLength: 2 }), fc.nat()).map(([evs, cut]) => {
      const t = jsonText({ events: evs });
      return t.slice(0, cut % t.length);
    }),
  },
  { weight: 3, arbitrary: hostileText(60) },
  {
    weight: 3,
    arbitrary: fc.constantFrom("", "null", "{}", "[]", '{"events":{}}', '{"events":null}', '{"events":[]}', "\u0000"),
  },
  { weight: 1, arbitrary: deepJson.map((d) => `{"events":${d.text}}`) },
  { weight: 1, arbitrary: deepJson.map((d) => d.text) },
  { weight: 1, arbitrary: fc.constantFrom(BULK.over, BULK.zeros, BULK.big, BULK.full).map((h) => h.text) },
);

// ---------------------------------------------------------------- requests

/** the names `npm run fuzz -- --routes` takes (scripts/fuzz/route-names.ts) */
export type RouteName = FuzzRouteName;

/** One generated request, before its token is signed (tokens are minted when the request is built). */
export interface RequestSpec {
  route: RouteName;
  method: string;
  /** the path and query, `{token}` where the materialized token goes (already URL-encoded by its placement) */
  path: string;
  token?: TokenSpec;
  /** how the token is placed in the URL: as is, or percent-encoded */
  tokenEncoding?: "raw" | "component";
  headers: HeaderList;
  body?: string;
}

const EMAIL_METHODS = fc.oneof(
  { weight: 12, arbitrary: fc.constant("GET") },
  { weight: 1, arbitrary: fc.constantFrom("HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND") },
);
const tokenEncoding = fc.constantFrom<"raw" | "component">("raw", "raw", "component");

/** Slot names: every real slot (both scales), near misses and hostile text. */
export const SLOT_NAMES = (Object.keys(LAYOUTS) as (keyof typeof LAYOUTS)[]).flatMap((l) =>
  Array.from({ length: LAYOUTS[l].slots }, (_, i) => [`${l}-${i}`, `${l}-${i}@2x`]).flat(),
);
const slotName = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...SLOT_NAMES) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "row-3",
      "grid-4",
      "card-1",
      "card-0@3x",
      "card-0@2X",
      "Card-0",
      "row--1",
      "row-01",
      "row-9999999999",
      "grid-0@2x@2x",
      "",
      "row",
      "@2x",
      "card-0.png",
      "grid-1%40",
      "%00",
      "row-1\u0000",
    ),
  },
  { weight: 2, arbitrary: hostileText(16) },
);
const pngSuffix = fc.constantFrom(".png", ".png", ".png", ".png", ".PNG", "", ".png.png", ".gif", ".png?x=1");
const junkQuery = fc.array(fc.tuple(hostileText(10), hostileOrHuge(20)), { maxLength: 3 });
const queryString = (pairs: [string, string][], encode: boolean) =>
  pairs.map(([k, v]) => (encode ? `${enc(k)}=${enc(v)}` : `${wellFormed(k)}=${wellFormed(v)}`)).join("&");

const FETCHERS = [
  "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
  "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
  "Mozilla/5.0",
  "Microsoft Office/16.0",
];
const imageHeaders: fc.Arbitrary<HeaderList> = fc
  .tuple(fc.option(fc.constantFrom(...FETCHERS), { nil: undefined }), extraHeaders)
  .map(([ua, extra]) => (ua ? [["User-Agent", ua] as [string, string], ...extra] : extra));

const slotRequest = (route: "image" | "click") =>
  fc
    .record({
      method: EMAIL_METHODS,
      token: tokenSpec,
      tokenEncoding,
      slot: slotName,
      suffix: route === "image" ? pngSuffix : fc.constantFrom("", "", "", "/", "?x=1", ".png"),
      shape: fc.constantFrom("normal", "normal", "normal", "normal", "extra-segment", "no-token", "slot-encoded"),
      query: junkQuery,
      headers: imageHeaders,
    })
    .map(({ method, token, tokenEncoding, slot, suffix, shape, query, headers }): RequestSpec => {
      const prefix = route === "image" ? "/v1/img/" : "/v1/c/";
      const slotPart = shape === "slot-encoded" ? enc(slot) : wellFormed(slot).replace(/[?#]/g, enc);
      const tokenPart = shape === "no-token" ? "" : shape === "extra-segment" ? "{token}/x" : "{token}";
      const q = query.length ? `${suffix.includes("?") ? "&" : "?"}${queryString(query, true)}` : "";
      return {
        route,
        method,
        path: `${prefix}${tokenPart}/${slotPart}${suffix}${q}`,
        token,
        tokenEncoding,
        headers,
      };
    });

export const imageRequest = slotRequest("image");
export const clickRequest = slotRequest("click");

function ampHeaders(auth: AmpAuth, extra: HeaderList): HeaderList {
  const h: HeaderList = [...extra];
  if (auth.v === "v2") h.push(["AMP-Email-Sender", auth.sender]);
  if (auth.origin !== undefined) h.push(["Origin", auth.origin]);
  return h;
}
const ampQuery = (auth: AmpAuth, rest: [string, string][], encode: boolean) => {
  const pairs: [string, string][] = [...rest];
  if (auth.v === "v1") pairs.push(["__amp_source_origin", auth.sourceOrigin]);
  return queryString(pairs, encode);
};

export const ampRecsRequest: fc.Arbitrary<RequestSpec> = fc
  .record({
    method: EMAIL_METHODS,
    auth: ampAuth,
    token: tokenSpec,
    n: fc.option(
      fc.oneof(
        fc.integer({ min: -2, max: 30 }).map(String),
        fc.constantFrom("1e308", "NaN", "Infinity", "-0", "0x10", "6.5", "", "1e309", "9".repeat(400)),
        hostileText(10),
      ),
      { nil: undefined },
    ),
    rest: junkQuery,
    encode: fc.boolean(),
    extra: extraHeaders,
  })
  .map(({ method, auth, token, n, rest, encode, extra }): RequestSpec => {
    const pairs: [string, string][] = [...rest];
    if (n !== undefined) pairs.push(["n", n]);
    const q = ampQuery(auth, pairs, encode);
    return {
      route: "amp-recs",
      method,
      path: `/v1/amp/recs?t={token}${q ? `&${q}` : ""}`,
      token,
      tokenEncoding: "component",
      headers: ampHeaders(auth, extra),
    };
  });

const formBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record(
        {
          personalization: fc.constantFrom("on", "true", "1", "off", "", "ON", "\u0000"),
          tracking: fc.constantFrom("on", "true", "1", "off", ""),
          topics: fc.array(hostileOrHuge(20), { maxLength: 60 }),
          frequency: fc.oneof(fc.constantFrom("daily", "weekly", "monthly", "hourly"), hostileText(8)),
          pause_days: fc.oneof(
            fc.integer({ min: -10, max: 400 }).map(String),
            fc.constantFrom("1e308", "NaN", "Infinity", "1e309", "-1e308", "0x10", ""),
          ),
          unsubscribe: fc.constantFrom("on", "true", "", "false"),
        },
        { requiredKeys: [] },
      )
      .map((f) => ({
        type: "application/x-www-form-urlencoded",
        body: Object.entries(f)
          .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}=${enc(x)}`) : [`${k}=${enc(v)}`]))
          .join("&"),
      })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(hostileText(20), hostileText(40)).map(([k, v]) => ({
      type: "multipart/form-data; boundary=XyZ",
      body: `--XyZ\r\nContent-Disposition: form-data; name="${wellFormed(k)}"\r\n\r\n${wellFormed(v)}\r\n--XyZ--\r\n`,
    })),
  },
  { weight: 1, arbitrary: anyJson.map((j) => ({ type: "application/json", body: jsonText(j) })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.option(headerText(30), { nil: undefined }), hostileOrHuge(80)).map(([type, body]) => ({
      type,
      body,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { type: "multipart/form-data; boundary=", body: "--\r\n" },
      { type: "multipart/form-data", body: "garbage" },
      { type: "application/x-www-form-urlencoded", body: "%%%=%ZZ&&&==" },
      { type: "application/x-www-form-urlencoded", body: `topics=${"t&topics=".repeat(20_000)}` },
    ),
  },
);

export const ampPreferencesRequest: fc.Arbitrary<RequestSpec> = fc
  .record({
    method: fc.oneof({ weight: 12, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: EMAIL_METHODS }),
    auth: ampAuth,
    token: tokenSpec,
    form: formBody,
    rest: junkQuery,
    extra: extraHeaders,
  })
  .map(({ method, auth, token, form, rest, extra }): RequestSpec => {
    const q = ampQuery(auth, rest, true);
    const headers = ampHeaders(auth, extra);
    if (form.type !== undefined) headers.push(["Content-Type", form.type]);
    return {
      route: "amp-preferences",
      method,
      path: `/v1/amp/preferences?t={token}${q ? `&${q}` : ""}`,
      token,
      tokenEncoding: "component",
      headers,
      body: method === "GET" || method === "HEAD" ? undefined : form.body,
    };
  });

export const pixelRequest: fc.Arbitrary<RequestSpec> = fc
  .record({
    method: EMAIL_METHODS,
    token: tokenSpec,
    tokenEncoding,
    gif: fc.boolean(),
    type: fc.option(fc.oneof(fc.constantFrom<string>(...EVENT_TYPES, "consent", "VIEW", ""), hostileText(10)), {
      nil: undefined,
    }),
    item: fc.option(itemId, { nil: undefined }),
    eid: fc.option(hostileOrHuge(40), { nil: undefined }),
    rest: junkQuery,
    headers: imageHeaders,
  })
  .map(({ method, token, tokenEncoding, gif, type, item, eid, rest, headers }): RequestSpec => {
    const pairs: [string, string][] = [...rest];
    if (type !== undefined) pairs.push(["type", type]);
    if (item !== undefined) pairs.push(["item", item]);
    if (eid !== undefined) pairs.push(["eid", eid]);
    const q = queryString(pairs, true);
    return {
      route: "pixel",
      method,
      path: `/v1/e/{token}${gif ? ".gif" : ""}${q ? `?${q}` : ""}`,
      token,
      tokenEncoding,
      headers,
    };
  });

const API_METHODS = (main: string) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(main) },
    { weight: 1, arbitrary: fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH") },
  );
const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "application/x-www-form-urlencoded",
    ),
    headerText(30),
  ),
  { nil: undefined },
);

const withAuth = (auth: string | null, type: string | undefined, extra: HeaderList): HeaderList => {
  const h: HeaderList = [...extra];
  if (auth !== null) h.push(["Authorization", auth]);
  if (type !== undefined) h.push(["Content-Type", type]);
  return h;
};

const eventsRequestFor = (route: "events" | "admin-events", key: string, path: string) =>
  fc
    .record({
      method: API_METHODS("POST"),
      auth: authorization(key),
      type: contentType,
      body: eventsBody,
      extra: extraHeaders,
      query: junkQuery,
    })
    .map(({ method, auth, type, body, extra, query }): RequestSpec => {
      const q = queryString(query, true);
      return {
        route,
        method,
        path: `${path}${q ? `?${q}` : ""}`,
        headers: withAuth(auth, type, extra),
        body: method === "GET" || method === "HEAD" ? undefined : body,
      };
    });
export const eventsRequest = eventsRequestFor("events", TEST_EVENTS_KEY, "/v1/events");
export const adminEventsRequest = eventsRequestFor("admin-events", TEST_ADMIN_KEY, "/v1/admin/events");

const consentBody: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record(
        {
          personalization: fc.oneof(fc.boolean(), fc.constantFrom<JsonIsh>("false", 0, null)),
          tracking: fc.oneof(fc.boolean(), fc.constantFrom<JsonIsh>("true", 1)),
          topics: fc.oneof(
            fc.array(hostileOrHuge(20), { maxLength: 5 }),
            fc.constantFrom<JsonIsh>(Array.from({ length: 51 }, () => "t")),
          ),
          frequency: fc.constantFrom<JsonIsh>("daily", "weekly", "monthly", null, "hourly"),
          pausedUntil: fc.oneof(fc.constant<JsonIsh>(null), hostileNumber),
          unsubscribed: fc.boolean(),
          updatedAt: hostileNumber,
          extra: anyJson,
        },
        { requiredKeys: [] },
      )
      .map((c) => jsonText(c as JsonIsh)),
  },
  { weight: 2, arbitrary: anyJson.map(jsonText) },
  { weight: 1, arbitrary: hostileText(40) },
  { weight: 1, arbitrary: deepJson.map((d) => d.text) },
  { weight: 1, arbitrary: fc.constantFrom(BULK.big, BULK.zeros).map((h) => h.text) },
);

export const usersRequest: fc.Arbitrary<RequestSpec> = fc
  .record({
    op: fc.constantFrom("DELETE", "GET", "PUT consent", "PUT consent", "PUT consent", "other"),
    method: fc.constantFrom("POST", "PATCH", "OPTIONS", "HEAD"),
    id: userId,
    idEncoding: fc.constantFrom("component", "component", "raw"),
    auth: authorization(TEST_ADMIN_KEY),
    type: contentType,
    body: consentBody,
    extra: extraHeaders,
  })
  .map(({ op, method, id, idEncoding, auth, type, body, extra }): RequestSpec => {
    // the seeded readers are not erased or opted out: the email routes' personalized path must keep running
    const safeId = PROFILE_USERS.includes(id) ? `fz-${id}` : id;
    const idPart = idEncoding === "component" ? enc(safeId) : wellFormed(safeId).replace(/[?#]/g, enc);
    const consent = op === "PUT consent";
    const realMethod = op === "other" ? method : consent ? "PUT" : op;
    return {
      route: "users",
      method: realMethod,
      path: `/v1/users/${idPart}${consent ? "/consent" : ""}`,
      headers: withAuth(auth, type, extra),
      body: realMethod === "GET" || realMethod === "HEAD" || realMethod === "DELETE" ? undefined : body,
    };
  });

const campaignSettings: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record(
        {
          policy: fc.constantFrom<JsonIsh>("freeze", "live", "LIVE", null, 1),
          decisionTtlDays: fc.oneof(fc.integer({ min: -1, max: 400 }), hostileNumber),
          utm: fc.oneof(
            fc.record(
              {
                source: hostileOrHuge(20),
                medium: hostileText(20),
                campaign: hostileText(20),
                content: hostileText(20),
              },
              { requiredKeys: [] },
            ),
            anyJson,
          ),
          badge: fc.oneof(hostileText(20), fc.constantFrom<JsonIsh>("New", "-20%", "\u{1f600}\u{1f600}", "")),
          fallbackUrl: fc.oneof(
            fc.webUrl(),
            fc.constantFrom<JsonIsh>(
              "https://shop.example/sale",
              "javascript:alert(1)",
              "data:text/html,<script>alert(1)</script>",
              "http://127.0.0.1/admin",
              "ftp://shop.example/",
              "https://shop.example/\r\nSet-Cookie: x=1",
              "//evil.example",
              "file:///etc/passwd",
            ),
          ),
          extra: anyJson,
        },
        { requiredKeys: [] },
      )
      .map((c) => jsonText(c as JsonIsh)),
  },
  { weight: 1, arbitrary: anyJson.map(jsonText) },
  { weight: 1, arbitrary: hostileText(40) },
  { weight: 1, arbitrary: deepJson.map((d) => d.text) },
);

/** Campaign ids: the ones tokens use (so hostile badges reach the email routes), near misses and hostile text. */
const campaignPathId = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("test", "spring", "fz-1", "fz.badge", "fz_fallback") },
  { weight: 2, arbitrary: campaignId.map(enc) },
  { weight: 1, arbitrary: hostileText(20).map((t) => wellFormed(t).replace(/[?#]/g, enc)) },
  { weight: 1, arbitrary: fc.constant("x".repeat(70)) },
);

export const campaignsRequest: fc.Arbitrary<RequestSpec> = fc
  .record({
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constant("PUT") },
      { weight: 3, arbitrary: fc.constant("GET") },
      { weight: 1, arbitrary: fc.constantFrom("POST", "DELETE", "PATCH", "HEAD") },
    ),
    id: campaignPathId,
    auth: authorization(TEST_ADMIN_KEY),
    type: contentType,
    body: campaignSettings,
    extra: extraHeaders,
  })
  .map(
    ({ method, id, auth, type, body, extra }): RequestSpec => ({
      route: "campaigns",
      method,
      path: `/v1/admin/campaigns/${id}`,
      headers: withAuth(auth, type, extra),
      body: method === "GET" || method === "HEAD" ? undefined : body,
    }),
  );

export const sendTimeRequest: fc.Arbitrary<RequestSpec> = fc
  .record({
    method: fc.oneof({ weight: 12, arbitrary: fc.constant("GET") }, { weight: 1, arbitrary: EMAIL_METHODS }),
    token: tokenSpec,
    rest: junkQuery,
    extra: extraHeaders,
    auth: fc.option(authorization(TEST_ADMIN_KEY), { nil: undefined }),
  })
  .map(({ method, token, rest, extra, auth }): RequestSpec => {
    const q = queryString(rest, true);
    return {
      route: "send-time",
      method,
      path: `/v1/send-time?t={token}${q ? `&${q}` : ""}`,
      token,
      tokenEncoding: "component",
      headers: withAuth(auth ?? null, undefined, extra),
    };
  });

/** Everything else: health, the preview and demo routes, unknown paths, odd methods, traversal. */
export const otherRequest: fc.Arbitrary<RequestSpec> = fc
  .record({
    method: fc.constantFrom("GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "PROPFIND"),
    path: fc.oneof(
      fc.constantFrom(
        "/v1/health",
        "/v1/health?x=1",
        "/",
        "/v1/preview",
        "/v1/preview/users",
        "/v1/preview/token?user=u1",
        "/v1/preview/email?user=u1",
        "/demo/img/p1.png?w=1e308&h=NaN",
        "/demo/img/x.svg",
        "/demo/p/%00",
        "/v1",
        "/v1/",
        "/v1/amp",
        "/v1/img",
        "/v1/img/",
        "/v1/c",
        "/v1/e/",
        "/v1/users",
        "/v1/users/",
        "/v1/admin/campaigns/",
        "/v1/../v1/health",
        "/v1/%2e%2e/health",
        "//v1/health",
        "/V1/HEALTH",
        "/v1/health/",
        "/favicon.ico",
        "/robots.txt",
      ),
      fc
        .array(hostileText(12), { minLength: 1, maxLength: 5 })
        .map((segs) => `/${segs.map((s) => wellFormed(s).replace(/[?#]/g, enc)).join("/")}`),
      fc.array(hostileText(12), { minLength: 1, maxLength: 4 }).map((segs) => `/v1/${segs.map(enc).join("/")}`),
    ),
    body: fc.option(hostileText(40), { nil: undefined }),
    extra: extraHeaders,
  })
  .map(
    ({ method, path, body, extra }): RequestSpec => ({
      route: "other",
      method,
      path,
      headers: extra,
      body: method === "GET" || method === "HEAD" ? undefined : body,
    }),
  );
