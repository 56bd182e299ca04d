/**
 * Input from outside, checked in core: the email-shape check is the regex it replaced on ordinary input and
 * linear on the input that made that regex quadratic; numbers are bounded, so profile sums stay finite; a
 * profile that does not validate is repaired field by field; a batch that would break a profile still
 * lands every event but the breaking one; catalog text in SVG, HTML and headers never makes them throw; a
 * validation error echoes no more of a hostile key than its start.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { applyEvents, applyEventsSafely } from "../../core/apply-events";
import { escapeXml } from "../../core/escape-xml";
import {
  IncomingEventSchema,
  InputNumberSchema,
  looksLikeEmail,
  MAX_ORDER_VALUE,
  type QueuedEvent,
  toQueued,
  UserIdSchema,
} from "../../core/events";
import { emptyProfile, MAX_MONETARY, ProfileV3Schema, salvageProfile } from "../../core/profile";
import { refuseProtoKey } from "../../core/record-keys";
import { mintToken, validClaims } from "../../core/token";
import { isPrivateNetworkHost, webUrl } from "../../core/web-url";
import { headerValue } from "../../worker/lib/header-value";
import { describeIssues } from "../../worker/lib/zod-issues";

const OLD_EMAIL_LIKE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const NOW = "2026-11-01T00:00:00.000Z";

describe("looksLikeEmail", () => {
  it("decides what the old regex decided, less domains of digits and dots, on short strings of the characters that matter", () => {
    const chars = fc.constantFrom("a", "b", ".", "@", " ", "\t", "-", "é", "1", "7");
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 14 }), (cs) => {
        const s = cs.join("");
        const t = s.trim();
        const numericDomain = /@[0-9.]+$/.test(t);
        expect(looksLikeEmail(s)).toBe(OLD_EMAIL_LIKE.test(t) && !numericDomain);
      }),
      { numRuns: 5000, seed: 7 },
    );
  });

  it("takes an event id whose part after the @ is a number, and still refuses an address with a number after it", () => {
    expect(looksLikeEmail("click@1700000000.5")).toBe(false);
    expect(looksLikeEmail("open@1700000000.123.4")).toBe(false);
    expect(looksLikeEmail("jane@example.com.1700000000")).toBe(true);
    expect(looksLikeEmail("jane@example.com:1700000000")).toBe(true);
    expect(looksLikeEmail("jane@mail2.example")).toBe(true);
    expect(looksLikeEmail("jane@1und1.de")).toBe(true);
  });

  it("reads look-alikes of @ and . and their percent-encodings as what they stand for (NFKC, IDNA's dots)", () => {
    for (const id of [
      "jane\uFF20example.com", // fullwidth commercial at
      "jane\uFE6Bexample.com", // small commercial at
      "jane@example\uFF0Ecom", // fullwidth full stop
      "jane@example\u3002com", // ideographic full stop
      "jane@example\uFF61com", // halfwidth ideographic full stop
      "jane%40example.com",
      "jane%2540example.com", // encoded twice
      "jane%40example%2Ecom",
      "\uFF4A\uFF41\uFF4E\uFF45\uFF20\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45\uFF0E\uFF43\uFF4F\uFF4D", // all fullwidth
    ]) {
      expect(looksLikeEmail(id), id).toBe(true);
      expect(UserIdSchema.safeParse(id).success, id).toBe(false);
    }
    // what names no mailbox still passes: a percent sign alone, an encoded @ with no domain, a number after it
    for (const id of ["c%400", "100%", "jane%40", "click%401700000000.5", "c\uFF10\uFF10\uFF14\uFF12"]) {
      expect(looksLikeEmail(id), id).toBe(false);
    }
  });

  it("reads an id of 300,000 encoded @s and dots in one pass", () => {
    expect(looksLikeEmail(`a${"%2525".repeat(60_000)}40b.c`)).toBe(true);
    expect(looksLikeEmail(`a%40${"%2E".repeat(100_000)}`)).toBe(false);
  });

  it("answers the old regex's quadratic input (300,000 characters) in one pass", () => {
    // `a@....@`: the old regex tried every split of the dots (minutes at this length); this is linear
    const hostile = `a@${".".repeat(300_000)}@`;
    expect(looksLikeEmail(hostile)).toBe(false);
    expect(looksLikeEmail(`${"a".repeat(300_000)}@shop.example`)).toBe(true);
  });

  it("checks the length before anything else: an over-long id gets one issue", () => {
    const parsed = UserIdSchema.safeParse(`a@${".".repeat(300_000)}@`);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.code)).toEqual(["too_big"]);
  });
});

describe("numbers from outside", () => {
  const purchase = (price: unknown) => ({
    id: "e1",
    type: "purchase",
    user: "u1",
    item: "p1",
    ts: 1_700_000_000,
    properties: { price, quantity: 2 },
  });

  it("refuses prices beyond the bound, and non-numbers", () => {
    expect(IncomingEventSchema.safeParse(purchase(1e308)).success).toBe(false);
    expect(IncomingEventSchema.safeParse(purchase(-1e10)).success).toBe(false);
    expect(IncomingEventSchema.safeParse(purchase(Number.NaN)).success).toBe(false);
    expect(IncomingEventSchema.safeParse(purchase(12.5)).success).toBe(true);
  });

  it("clamps order values into [0, MAX_ORDER_VALUE]", () => {
    const big = IncomingEventSchema.parse({ ...purchase(1e9), properties: { price: 1e9, quantity: 1e9 } });
    expect(toQueued(big).value).toBe(MAX_ORDER_VALUE);
    const negative = IncomingEventSchema.parse({ ...purchase(1), properties: { value: -5 } });
    expect(toQueued(negative).value).toBe(0);
  });

  it("keeps the profile's monetary sum finite and valid whatever values arrive (queued before the bounds)", () => {
    const events: QueuedEvent[] = [1, 2, 3].map((i) => ({
      id: `big${i}`,
      type: "purchase",
      user: "u1",
      item: `p${i}`,
      ts: 1_700_000_000 + i,
      value: 1e308,
    }));
    const res = applyEvents(emptyProfile("u1", NOW), events, NOW);
    expect(res.profile.rfm.monetary).toBe(MAX_MONETARY);
    expect(ProfileV3Schema.safeParse(JSON.parse(JSON.stringify(res.profile))).success).toBe(true);
  });
});

describe("profiles that do not validate", () => {
  it("are repaired field by field: consent and history kept, the broken field reset", () => {
    const good = applyEvents(
      emptyProfile("u1", NOW),
      [
        { id: "v1", type: "view", user: "u1", item: "p1", ts: 1_700_000_000 },
        { id: "c1", type: "consent", user: "u1", ts: 1_700_000_001, consent: { personalization: false } },
      ],
      NOW,
    ).profile;
    const broken = JSON.parse(JSON.stringify({ ...good, rfm: { ...good.rfm, monetary: null } }));
    expect(ProfileV3Schema.safeParse(broken).success).toBe(false);
    const { profile, reset } = salvageProfile(broken, "u1", NOW);
    expect(reset).toEqual(["rfm"]);
    expect(profile.consent.personalization).toBe(false);
    expect(profile.recentItems.map((r) => r.item)).toEqual(["p1"]);
    // a consent change keeps no id (its clock makes it idempotent)
    expect(profile.seenEvents).toEqual(["v1"]);
  });

  it("take an unreadable consent as an opt-out, never as the default opt-in", () => {
    const { profile, reset } = salvageProfile({ v: 3, consent: { personalization: "yes" } }, "u1", NOW);
    expect(reset).toContain("consent");
    expect(profile.consent.personalization).toBe(false);
    expect(profile.consent.tracking).toBe(false);
  });

  it("a batch that would break the profile lands every event but the breaking one", () => {
    const events: QueuedEvent[] = [
      { id: "ok1", type: "view", user: "u1", item: "p1", ts: 1_700_000_000 },
      // a queued message no API check would pass (a time that is not whole seconds): it would break recentItems
      { id: "bad", type: "view", user: "u1", item: "p2", ts: 1_700_000_001.5 },
      { id: "c1", type: "consent", user: "u1", ts: 1_700_000_002, consent: { personalization: false } },
    ];
    expect(ProfileV3Schema.safeParse(applyEvents(emptyProfile("u1", NOW), events, NOW).profile).success).toBe(false);
    const res = applyEventsSafely(emptyProfile("u1", NOW), events, NOW);
    expect(res.rejectedIds).toEqual(["bad"]);
    expect(ProfileV3Schema.safeParse(res.profile).success).toBe(true);
    expect(res.profile.consent.personalization).toBe(false);
    expect(res.appliedIds).toContain("c1");
    expect(res.appliedIds).toContain("ok1");
  });

  it("a queued consent change with a value the profile cannot keep applies its other fields, an unsubscribe above all", () => {
    // what an earlier version could queue unchecked: an unknown frequency, a pause in fractional seconds, a field the
    // consent does not have, a yes/no that is not one; each is left as it was, the rest of the change lands
    const events: QueuedEvent[] = [
      {
        id: "c0",
        type: "consent",
        user: "u1",
        ts: 1_700_000_000,
        consent: { frequency: "weekly", topics: ["sale"] },
      },
      {
        id: "c1",
        type: "consent",
        user: "u1",
        ts: 1_700_000_001,
        consent: {
          frequency: "hourly",
          unsubscribed: true,
          pausedUntil: 1_800_000_000.7,
          personalization: "no",
          shoeSize: 44,
          updatedAt: 5,
        } as unknown as QueuedEvent["consent"],
      },
    ];
    const res = applyEventsSafely(emptyProfile("u1", NOW), events, NOW);
    expect(res.rejectedIds).toEqual([]);
    expect(res.appliedIds).toEqual(["c0", "c1"]);
    expect(ProfileV3Schema.safeParse(res.profile).success).toBe(true);
    expect(res.profile.consent).toEqual({
      personalization: true,
      tracking: true,
      topics: ["sale"],
      frequency: "weekly",
      pausedUntil: 1_800_000_000,
      unsubscribed: true,
      updatedAt: 1_700_000_001,
    });
  });
});

describe("event properties of no allowed kind", () => {
  const batch = (value: unknown) =>
    Array.from({ length: 500 }, (_, i) => ({
      id: `e${i}`,
      type: "view",
      user: "u1",
      item: "p1",
      ts: 1_800_000_000,
      properties: Object.fromEntries(Array.from({ length: 260 }, (_, k) => [k.toString(36), value])),
    }));
  /** the least time of three runs of validating `events` (ms) */
  const cost = (events: unknown[]) => {
    let least = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 3; run++) {
      const started = performance.now();
      for (const e of events) IncomingEventSchema.safeParse(e);
      least = Math.min(least, performance.now() - started);
    }
    return least;
  };

  it("are refused for what they are, the first four named and the rest counted", () => {
    const parsed = IncomingEventSchema.safeParse(batch(null)[0]);
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(describeIssues(parsed.error)).toBe(
      [0, 1, 2, 3]
        .map((k) => `properties.${k}: must be a string, a number or a boolean, not null: properties are flat`)
        .join("; ") + "; properties: and 256 more properties of no such kind: properties are flat",
    );
  });

  it("cost no more to refuse than properties as many that are taken (a MiB of nulls cost over a second)", () => {
    // relative to the same batch with numbers, so that a loaded machine slows both: about 5 times before, 0.4 now
    const nulls = batch(null);
    const numbers = batch(1);
    expect(cost(nulls)).toBeLessThan(1.5 * cost(numbers));
  });

  it("take and refuse exactly what the record of the union alone does, `__proto__` a refused name", () => {
    const union = refuseProtoKey(
      z.record(z.string().max(64), z.union([z.string().max(512), InputNumberSchema, z.boolean()])),
      "a property name",
    );
    const edges = [1e9, -1e9, 1e9 + 1e-7, -1e9 - 1e-7, 0, -0, 5e-324, 1e308, "x".repeat(512), "x".repeat(513)];
    const value = fc.oneof(
      fc.constantFrom<unknown>(...edges, "\u{1F600}".repeat(256), "\u{1F600}".repeat(257), true, null, [], {}),
      fc.double(),
      fc.jsonValue(),
    );
    const same = (properties: Record<string, unknown>) => {
      const event = { id: "e1", type: "view", user: "u1", item: "p1", ts: 1_800_000_000, properties };
      expect(IncomingEventSchema.safeParse(event).success, JSON.stringify(properties)).toBe(
        union.safeParse(properties).success,
      );
    };
    // past the first four refused, the rest are only counted: six of one value each
    const six = (v: unknown) => Object.fromEntries(Array.from({ length: 6 }, (_, k) => [`k${k}`, v]));
    fc.assert(
      fc.property(value, (v) => same(six(v))),
      { numRuns: 1000 },
    );
    for (const v of edges) same(six(v));
    // as JSON.parse makes it: an own property named `__proto__` (fast-check's dictionaries make them too)
    same(JSON.parse('{"__proto__": ""}') as Record<string, unknown>);
    expect(
      IncomingEventSchema.safeParse({
        ...JSON.parse('{"properties": {"__proto__": ""}}'),
        id: "e1",
        type: "view",
        user: "u1",
        item: "p1",
        ts: 1_800_000_000,
      }).success,
    ).toBe(false);
    fc.assert(fc.property(fc.dictionary(fc.string({ maxLength: 70 }), value, { maxKeys: 8 }), same), { numRuns: 1000 });
  });

  it("of the right kind out of bounds: the first four in zod's words, the rest counted, at no more cost", () => {
    // `"a":1e10,` is as short as `"a":null,`: each such number built its issues in zod as each null did
    const big = batch(1e10);
    expect(cost(big)).toBeLessThan(1.5 * cost(batch(1)));
    const parsed = IncomingEventSchema.safeParse(big[0]);
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(describeIssues(parsed.error)).toBe(
      [0, 1, 2, 3].map((k) => `properties.${k}: Too big: expected number to be <=1000000000`).join("; ") +
        "; properties: and 256 more properties out of bounds (text over 512 characters, a number beyond +-1e9)",
    );
  });
});

describe("validation errors", () => {
  it("echo no more of a hostile key than its start, however long it is", () => {
    const key = "k".repeat(100_000);
    const schema = z.strictObject({ a: z.record(z.string(), z.strictObject({ x: z.number() })) });
    const parsed = schema.safeParse({ a: { [key]: { x: "no" } }, [key]: 1 });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    const message = describeIssues(parsed.error);
    expect(message.length).toBeLessThan(1000);
    // the path still names where: the start of the key, and the field under it
    expect(message).toContain("a.kkkk");
    expect(message).toMatch(/…\.x: /);
  });

  it("say a field left out is missing whatever its type (enum, literal, union, object), told by its absent key", () => {
    const schema = z.object({
      e: z.enum(["a", "b"]),
      l: z.literal("x"),
      u: z.union([z.string(), z.number()]),
      d: z.discriminatedUnion("type", [z.object({ type: z.literal("p") }), z.object({ type: z.literal("q") })]),
      o: z.object({ s: z.string() }),
    });
    const input = { d: {}, o: {} };
    const parsed = schema.safeParse(input);
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(describeIssues(parsed.error, "", { input }).split("; ")).toEqual([
      'e: required, but missing (expected one of "a"|"b")',
      'l: required, but missing (expected "x")',
      "u: required, but missing",
      'd.type: required, but missing (expected one of "p"|"q")',
      "o.s: required, but missing (expected string)",
    ]);
    // a value sent but wrong is still said to be wrong
    const wrong = { e: "c", l: "x", u: "", d: { type: "p" }, o: { s: "" } };
    const bad = schema.safeParse(wrong);
    expect(bad.success || describeIssues(bad.error, "", { input: wrong })).toBe(
      'e: Invalid option: expected one of "a"|"b"',
    );
  });

  it("cut a key of emoji between characters, never between the halves of one", () => {
    const key = `${"k".repeat(39)}${"😀".repeat(10)}`;
    const parsed = z.strictObject({ a: z.record(z.string(), z.number()) }).safeParse({ a: { [key]: "no" } });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    const message = describeIssues(parsed.error);
    expect(message).toContain(`a.${"k".repeat(39)}…: `);
    expect(message.isWellFormed()).toBe(true);
  });
});

describe("token claims", () => {
  it("a campaign id holds no ':' (it becomes part of KV keys), a user id no control characters", async () => {
    expect(validClaims("u1", "spring-2026")).toBe(true);
    expect(validClaims("u1", "a:b")).toBe(false);
    expect(validClaims("u\r\n1", "c")).toBe(false);
    expect(validClaims("x".repeat(129), "c")).toBe(false);
    await expect(mintToken("s".repeat(32), { user: "u1", campaign: "a:b", ttlSeconds: 60 })).rejects.toThrow();
  });
});

describe("text from the catalog in SVG, HTML and headers", () => {
  it("escapeXml drops what XML refuses and keeps every other character (property)", () => {
    expect(escapeXml('Mug\u0001 "<b>" & \uFFFE\ud83d')).toBe("Mug &quot;&lt;b&gt;&quot; &amp; \uFFFD");
    expect(escapeXml("tab\there, line\nfeed, emoji \ud83d\ude00")).toBe("tab\there, line\nfeed, emoji \ud83d\ude00");
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const out = escapeXml(s);
        // nothing XML 1.0 refuses, nothing unescaped, and no lone surrogate
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the characters XML 1.0 refuses
        expect(out).not.toMatch(/[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF<>"']/);
        expect(() => encodeURIComponent(out)).not.toThrow();
      }),
      { seed: 7, numRuns: 2000 },
    );
  });

  it("headerValue never throws: a lone surrogate, or an emoji cut in half at 200 characters", () => {
    const cut = `${"x".repeat(199)}\ud83d\ude00`;
    expect(headerValue(cut)).toBe(`${"x".repeat(199)}%EF%BF%BD`);
    expect(headerValue("p\udc00")).toBe("p%EF%BF%BD");
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (s) => {
        expect(headerValue(s)).toMatch(/^[\x20-\x7e]*$/);
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
});

describe("URLs from data, served", () => {
  it("webUrl keeps a path on the base's origin and takes only http(s)", () => {
    const base = "https://opentime.example";
    const at = (u: string) => webUrl(u, base)?.toString() ?? null;
    expect(at("/p/1")).toBe("https://opentime.example/p/1");
    expect(at("https://shop.example/p/1?x=1")).toBe("https://shop.example/p/1?x=1");
    // a protocol-relative URL names its host: a catalog's pictures often are
    expect(at("//cdn.shop.example/p.png")).toBe("https://cdn.shop.example/p.png");
    // paths a URL parser reads as another host: stored before the admin API refused them, or from a catalog
    for (const u of ["/\\evil.example", "/\t/evil.example", "\\\\evil.example", " //evil.example"])
      expect(at(u), JSON.stringify(u)).toBeNull();
    for (const u of ["javascript:alert(1)", "data:text/html,x", "mailto:a@b.example"]) expect(at(u), u).toBeNull();
  });
});

describe("webhook hosts on a private network", () => {
  const host = (url: string) => new URL(url).hostname;
  it("refuses private, link-local, shared and metadata addresses however written, and internal names", () => {
    for (const url of [
      "https://10.0.0.5/hook",
      "https://10.1/hook", // the parser reads 10.0.0.1
      "https://0x0a.0.0.1/",
      "https://172.16.0.1/",
      "https://172.31.255.255/",
      "https://192.168.1.1/",
      "https://169.254.169.254/latest/meta-data",
      "https://100.64.0.1/",
      "https://0.0.0.0/",
      "https://127.0.0.2/",
      "https://[fd00::1]/",
      "https://[fc00::1]/",
      "https://[fe80::1]/",
      "https://[::ffff:10.0.0.1]/",
      "https://[::ffff:169.254.169.254]/",
      "https://[::]/", // the unspecified address: this machine on most systems
      "https://[::127.0.0.1]/", // an IPv4-compatible address (the parser writes ::7f00:1)
      "https://[::10.0.0.1]/",
      "https://[64:ff9b::10.0.0.1]/", // NAT64: the gateway reaches 10.0.0.1
      "https://[64:ff9b::169.254.169.254]/",
      "https://[64:ff9b:1::1]/", // a local-use NAT64 prefix
      "https://[2002:a00:1::1]/", // 6to4 through 10.0.0.1
      "https://[2002:a9fe:a9fe::]/", // 6to4 through 169.254.169.254
      "https://[::ffff:0:10.0.0.1]/", // IPv4-translated (SIIT): a translator reaches 10.0.0.1
      "https://[::ffff:0:a9fe:a9fe]/",
      "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", // Teredo: its client is 10.0.0.1, bits inverted
      "https://[2001::1]/", // any Teredo address: a tunnel no webhook is served from
      "https://[fec0::1]/", // site-local: deprecated, still routed inside some networks
      "https://[ff02::1]/", // multicast: all nodes on the link
      "https://metadata.google.internal/",
      "https://printer.local/",
      "https://api.localhost/",
      "https://router.home.arpa./",
    ])
      expect(isPrivateNetworkHost(host(url)), url).toBe(true);
  });
  it("takes public hosts, and this machine (local development)", () => {
    for (const url of [
      "https://hooks.shop.example/opentime",
      "https://172.32.0.1/",
      "https://192.169.0.1/",
      "https://100.128.0.1/",
      "https://8.8.8.8/",
      "https://[2001:db8::1]/",
      "https://[::ffff:8.8.8.8]/",
      "https://[64:ff9b::8.8.8.8]/",
      "https://[2002:808:808::1]/",
      "https://[::ffff:0:8.8.8.8]/",
      "https://[2001:4860::8888]/", // 2001:: beyond Teredo's /32
      "https://[fe00::1]/", // just below site-local
      "https://[2606:4700::1111]/",
      "https://internal.example/",
      "http://127.0.0.1:8788/hook",
      "http://localhost:8788/hook",
      "http://[::1]:8788/hook",
    ])
      expect(isPrivateNetworkHost(host(url)), url).toBe(false);
  });
});
