/** Profiles: v1 and v2 migrate to v3; broken data is refused with a reason; events apply idempotently. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyEvents, decayedEngagement } from "../../core/apply-events";
import { IncomingEventSchema, looksLikeEmail, type QueuedEvent, toQueued } from "../../core/events";
import {
  ConsentChangeSchema,
  emptyProfile,
  MAX_IMPRESSIONS,
  ProfileV3Schema,
  parseProfile,
  salvageConsent,
  salvageProfile,
} from "../../core/profile";

describe("profile migrations", () => {
  it("migrates v1 through v2 to v3: purchases grouped by item, newest first, consent at defaults", () => {
    const res = parseProfile({
      v: 1,
      userId: "u1",
      updatedAt: "2026-01-01T00:00:00Z",
      factors: null,
      recentPurchases: [
        { item: "a", ts: 300 },
        { item: "b", ts: 200 },
        { item: "a", ts: 100 },
      ],
    });
    expect(res.ok && res.migratedFrom).toBe(1);
    if (!res.ok) return;
    expect(res.profile.v).toBe(3);
    expect(res.profile.purchases).toEqual([
      { item: "a", invoices: 2, lastTs: 300 },
      { item: "b", invoices: 1, lastTs: 200 },
    ]);
    expect(res.profile.consent).toMatchObject({ personalization: true, tracking: true, unsubscribed: false });
    expect(res.profile.lastActivity).toBe(300);
    expect(res.profile.seenEvents).toEqual([]);
  });

  it("refuses a broken profile and says where", () => {
    const res = parseProfile({ v: 3, userId: "", updatedAt: "x", factors: null });
    expect(res.ok).toBe(false);
    expect(!res.ok && res.error).toMatch(/userId/);
  });
});

describe("events", () => {
  it("validates types, items and pseudonymous ids", () => {
    expect(IncomingEventSchema.safeParse({ id: "1", type: "view", user: "u", item: "p", ts: 1 }).success).toBe(true);
    expect(IncomingEventSchema.safeParse({ id: "1", type: "view", user: "u", ts: 1 }).success).toBe(false);
    expect(IncomingEventSchema.safeParse({ id: "1", type: "email_open", user: "u", ts: 1 }).success).toBe(true);
    expect(looksLikeEmail("jane.doe@example.co.uk")).toBe(true);
    expect(looksLikeEmail("c0000042")).toBe(false);
    expect(IncomingEventSchema.safeParse({ id: "1", type: "email_open", user: "a@b.com", ts: 1 }).success).toBe(false);
    // a padded id would be another reader (their history split): refused, saying so
    for (const user of [" c0000042", "c0000042 ", "c0000042\u00a0", "\u2003c0000042"]) {
      const padded = IncomingEventSchema.safeParse({ id: "1", type: "email_open", user, ts: 1 });
      expect(padded.error?.issues.map((i) => [i.path.join("."), i.message.slice(0, 36)])).toEqual([
        ["user", "must not begin or end with a space: "],
      ]);
    }
    expect(IncomingEventSchema.safeParse({ id: "1", type: "email_open", user: "c 42", ts: 1 }).success).toBe(true);
  });

  it("normalizes time and purchase value", () => {
    const e = IncomingEventSchema.parse({
      id: "1",
      type: "purchase",
      user: "u",
      item: "p",
      ts: 1_700_000_000_000,
      properties: { price: 4, quantity: 3 },
    });
    expect(toQueued(e)).toMatchObject({ ts: 1_700_000_000, value: 12 });
    const iso = IncomingEventSchema.parse({ id: "2", type: "email_open", user: "u", ts: "2026-11-22T10:00:00Z" });
    expect(toQueued(iso).ts).toBe(Date.UTC(2026, 10, 22, 10) / 1000);
  });

  it("takes an ISO-8601 string, a time without a zone as UTC, and refuses any other date text", () => {
    const at = (ts: string) => IncomingEventSchema.safeParse({ id: "1", type: "email_open", user: "u", ts });
    const hour = Date.UTC(2026, 10, 22, 10) / 1000;
    for (const [ts, want] of [
      ["2026-11-22T10:00:00Z", hour],
      ["2026-11-22T10:00:00", hour],
      ["2026-11-22T10:00", hour],
      ["2026-11-22T11:00:00.250+01:00", hour],
      ["2026-11-22T11:00:00+0100", hour],
      ["2026-11-22", Date.UTC(2026, 10, 22) / 1000],
      ["2026-11-22 10:00:00", hour],
      ["2026-11-22 11:00:00.123456+01:00", hour],
      ["2026-11-22t10:00:00.000z", hour],
    ] as const) {
      const r = at(ts);
      expect(r.success && toQueued(r.data).ts).toBe(want);
    }
    const refused = ["1", "1700000000", "Dec 3 2026", "Thu, 03 Dec 2026 10:00:00 GMT", "2026-13-40", "2026-11-22T"];
    // a day the calendar does not have is refused, not rolled over (Date.parse makes 31 February 3 March)
    refused.push("2026-02-31T10:00:00Z", "2026-11-22T10:60:00Z");
    for (const ts of refused) {
      const r = at(ts);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(["ts"]);
    }
  });
});

describe("a purchase's currency", () => {
  const purchase = (properties: Record<string, unknown>, type = "purchase") =>
    IncomingEventSchema.safeParse({ id: "1", type, user: "u", item: "p", ts: 1, properties });

  it("is an ISO 4217 code: three letters, read in upper case; anything else is refused and named", () => {
    const ok = purchase({ value: 12, currency: "eur" });
    expect(ok.success && toQueued(ok.data)).toMatchObject({ value: 12, currency: "EUR" });
    for (const currency of ["pounds", "€", "GB", 826, true]) {
      const bad = purchase({ value: 12, currency });
      expect(bad.success).toBe(false);
      expect(bad.error?.issues[0]?.path).toEqual(["properties", "currency"]);
      expect(bad.error?.issues[0]?.message).toContain("ISO 4217");
    }
  });

  it("is carried (and checked) on purchases only, and absent when none was given", () => {
    const none = purchase({ value: 12 });
    expect(none.success && "currency" in toQueued(none.data)).toBe(false);
    const view = purchase({ currency: "GBP" }, "view");
    expect(view.success && "currency" in toQueued(view.data)).toBe(false);
    // other events may carry a property of that name for their own use
    expect(purchase({ currency: "€" }, "custom").success).toBe(true);
  });
});

describe("a purchase's value", () => {
  const purchase = (properties: Record<string, unknown>, type = "purchase") =>
    IncomingEventSchema.safeParse({ id: "1", type, user: "u", item: "p", ts: 1, properties });

  it("is read from numbers only: a price sent as text is refused and named, never counted as 0", () => {
    for (const [properties, field] of [
      [{ price: "10.50", quantity: 1 }, "price"],
      [{ price: 10.5, quantity: "2" }, "quantity"],
      [{ value: "21.00" }, "value"],
      [{ price: true }, "price"],
    ] as const) {
      const bad = purchase(properties);
      expect(bad.success, JSON.stringify(properties)).toBe(false);
      expect(bad.error?.issues[0]?.path).toEqual(["properties", field]);
      expect(bad.error?.issues[0]?.message).toMatch(/^must be a number \(got a (string|boolean)\)/);
    }
    const ok = purchase({ price: 10.5, quantity: 2, note: "gift" });
    expect(ok.success && toQueued(ok.data)).toMatchObject({ value: 21 });
    expect(purchase({ value: 0 }).success).toBe(true);
    // other events keep their properties as they are
    expect(purchase({ price: "10.50" }, "view").success).toBe(true);
  });

  it("a time that is missing, null or in microseconds is refused saying what a time is", () => {
    const at = (ts: unknown) => IncomingEventSchema.safeParse({ id: "1", type: "email_open", user: "u", ts });
    for (const ts of [undefined, null, 1_796_432_000_000_000, -1, {}]) {
      const bad = at(ts);
      expect(bad.success, String(ts)).toBe(false);
      expect(bad.error?.issues.map((i) => i.message)).toEqual([
        "must be unix seconds or milliseconds (a number), or an ISO-8601 date (2026-11-22T10:00:00Z)",
      ]);
    }
  });
});

describe("applying events", () => {
  /** a change of tracking consent alone, as the consent API queues it */
  const consent = (id: string, ts: number, tracking: boolean): QueuedEvent => ({
    id,
    user: "u",
    type: "consent",
    ts,
    consent: { tracking },
  });
  const e = (id: string, type: QueuedEvent["type"], ts: number, item?: string, value?: number): QueuedEvent => ({
    id,
    user: "u",
    type,
    ts,
    item,
    value,
  });

  it("keeps impressions newest first and bounded, apart from the reader's activity; none when tracking is off", () => {
    const p0 = emptyProfile("u", "2026-01-01T00:00:00Z");
    const shown = (id: string, ts: number, items: string[]): QueuedEvent => ({
      id,
      user: "u",
      type: "impression",
      ts,
      items,
    });
    const r = applyEvents(
      p0,
      [shown("i1", 100, ["a", "b"]), shown("i2", 200, ["c"]), shown("i1", 100, ["a", "b"])],
      "t",
    );
    expect(r.profile.impressions).toEqual([
      { item: "c", ts: 200 },
      { item: "a", ts: 100 },
      { item: "b", ts: 100 },
    ]);
    expect(r.duplicates).toBe(1);
    expect(r.profile.lastActivity).toBeNull();
    expect(r.profile.recentItems).toEqual([]);
    expect(r.profile.engagement.score).toBe(0);
    const many = Array.from({ length: 40 }, (_, i) =>
      shown(
        `m${i}`,
        1000 + i,
        Array.from({ length: 24 }, (_, j) => `x${j}`),
      ),
    );
    const big = applyEvents(p0, many, "t").profile;
    expect(big.impressions).toHaveLength(MAX_IMPRESSIONS);
    expect(big.impressions[0]?.ts).toBe(1039);
    expect(ProfileV3Schema.safeParse(big).success).toBe(true);
    const off = { ...p0, consent: { ...p0.consent, tracking: false } };
    expect(applyEvents(off, [shown("i3", 300, ["a"])], "t").refused).toBe(1);
    // turning tracking off forgets them, unless the opt-out is older than an opt-in the clock holds
    const optOut = (id: string, ts: number): QueuedEvent => ({
      id,
      user: "u",
      type: "consent",
      ts,
      consent: { tracking: false },
    });
    const stale = applyEvents(r.profile, [optOut("o1", 150)], "t", [], { tracking: 180 });
    expect(stale).toMatchObject({ applied: 1, trackingOff: false });
    expect(stale.profile.consent.tracking).toBe(true);
    expect(stale.profile.impressions).toHaveLength(3);
    const fresh = applyEvents(r.profile, [optOut("o2", 250)], "t", [], { tracking: 180 });
    expect(fresh).toMatchObject({ applied: 1, trackingOff: true });
    expect(fresh.profile.impressions).toEqual([]);
    // a stored profile from before impressions reads as having none
    const { impressions: _, ...older } = p0;
    expect(parseProfile(older)).toMatchObject({ ok: true, profile: { impressions: [] } });
  });

  it("updates history, RFM, engagement and recent items, and is idempotent by event id", () => {
    const p0 = emptyProfile("u", "2026-01-01T00:00:00Z");
    const batch = [
      e("1", "view", 100, "a"),
      e("2", "purchase", 200, "a", 9.5),
      e("3", "email_open", 150),
      e("4", "purchase", 300, "b", 1),
    ];
    const r1 = applyEvents(p0, batch, "now");
    expect(r1.applied).toBe(4);
    expect(r1.profile.purchases).toEqual([
      { item: "b", invoices: 1, lastTs: 300 },
      { item: "a", invoices: 1, lastTs: 200 },
    ]);
    expect(r1.profile.rfm).toEqual({ orders: 2, monetary: 10.5, lastPurchaseTs: 300 });
    expect(r1.profile.recentItems.map((x) => x.item)).toEqual(["b", "a", "a"]);
    expect(r1.profile.lastActivity).toBe(300);
    const r2 = applyEvents(r1.profile, [batch[1] as QueuedEvent, e("5", "purchase", 400, "a")], "now");
    expect(r2.applied).toBe(1);
    expect(r2.duplicates).toBe(1);
    expect(r2.profile.purchases.find((x) => x.item === "a")?.invoices).toBe(2);
    expect(p0.purchases).toEqual([]); // pure: the input is untouched
  });

  it("never changes the profile it is given (it copies on write, without a deep clone)", () => {
    const types = ["view", "cart_add", "purchase", "email_open", "email_click", "consent"] as const;
    const event = fc.record({
      id: fc.string({ minLength: 1, maxLength: 4 }),
      type: fc.constantFrom(...types),
      item: fc.constantFrom("a", "b", "c", undefined),
      ts: fc.integer({ min: 1, max: 1000 }),
      value: fc.double({ min: 0, max: 100, noNaN: true }),
      tracking: fc.boolean(),
    });
    const toEvent = (x: {
      id: string;
      type: (typeof types)[number];
      item: string | undefined;
      ts: number;
      value: number;
      tracking: boolean;
    }): QueuedEvent =>
      x.type === "consent"
        ? { ...e(x.id, "consent", x.ts), consent: { tracking: x.tracking } }
        : e(x.id, x.type, x.ts, x.item, x.value);
    fc.assert(
      fc.property(fc.array(event, { maxLength: 12 }), fc.array(event, { maxLength: 12 }), (first, second) => {
        const before = applyEvents(emptyProfile("u", "t0"), first.map(toEvent), "t1").profile;
        const frozen = JSON.stringify(before);
        applyEvents(before, second.map(toEvent), "t2", [], {});
        expect(JSON.stringify(before)).toBe(frozen);
      }),
      { numRuns: 500 },
    );
  });

  it("counts a replay once even after the profile's own window has moved on, given the longer history", () => {
    let p = emptyProfile("u", "x");
    const history: string[] = [];
    const first = e("early", "purchase", 1, "a");
    for (const batch of [[first], Array.from({ length: 1200 }, (_, i) => e(`later-${i}`, "view", 2 + i, "b"))]) {
      const r = applyEvents(p, batch, "now", history);
      history.push(...r.appliedIds);
      p = r.profile;
    }
    expect(p.seenEvents).not.toContain("early");
    const replay = applyEvents(p, [first], "now", history);
    expect(replay).toMatchObject({ applied: 0, duplicates: 1 });
    expect(applyEvents(p, [first], "now").applied).toBe(1); // without the history it would count twice
  });

  it("decays engagement with a 30-day half-life", () => {
    expect(decayedEngagement(8, 0, 30 * 86400)).toBeCloseTo(4);
    const p = applyEvents(
      emptyProfile("u", "x"),
      [e("1", "email_click", 0), e("2", "email_open", 30 * 86400)],
      "now",
    ).profile;
    expect(p.engagement.score).toBeCloseTo(3 / 2 + 1);
  });

  it("weighs an open or click that arrives late by its own time: the score is the same whatever the arrival order", () => {
    const click = e("1", "email_click", 0);
    const open = e("2", "email_open", 30 * 86400);
    const inOrder = applyEvents(applyEvents(emptyProfile("u", "x"), [click], "now").profile, [open], "now").profile;
    const late = applyEvents(applyEvents(emptyProfile("u", "x"), [open], "now").profile, [click], "now").profile;
    expect(inOrder.engagement.score).toBeCloseTo(3 / 2 + 1);
    // the click came 30 days before the open: half its weight, not all of it
    expect(late.engagement).toEqual(inOrder.engagement);
  });

  it("applies consent changes in time order: events before an opt-out are kept, after it refused", () => {
    const optOut: QueuedEvent = {
      id: "c1",
      user: "u",
      type: "consent",
      ts: 20,
      consent: { tracking: false, personalization: false },
    };
    const r = applyEvents(
      emptyProfile("u", "x"),
      [e("late", "view", 30, "b"), optOut, e("early", "view", 10, "a")],
      "now",
    );
    expect(r).toMatchObject({ applied: 2, refused: 1 });
    expect(r.profile.recentItems.map((x) => x.item)).toEqual(["a"]);
    expect(r.profile.consent).toMatchObject({ tracking: false, personalization: false, updatedAt: 20 });
    const optIn: QueuedEvent = { id: "c2", user: "u", type: "consent", ts: 40, consent: { tracking: true } };
    const back = applyEvents(r.profile, [optIn, e("later", "view", 50, "c")], "now");
    expect(back.profile.consent.tracking).toBe(true);
    expect(back.profile.recentItems.map((x) => x.item)).toEqual(["c", "a"]);
  });

  it("two consent changes in one second end the same in either order: the more private one wins", () => {
    const change = (id: string, consent: QueuedEvent["consent"]): QueuedEvent => ({
      id,
      user: "u",
      type: "consent",
      ts: 100,
      consent,
    });
    const off = change("off", { tracking: false, unsubscribed: true });
    const on = change("on", { tracking: true, unsubscribed: false });
    for (const order of [
      [off, on],
      [on, off],
    ]) {
      // one batch, or each arriving on its own (a retry)
      const together = applyEvents(emptyProfile("u", "x"), order, "now", [], {});
      const clock = {};
      const first = applyEvents(emptyProfile("u", "x"), [order[0] as QueuedEvent], "now", [], clock);
      const apart = applyEvents(first.profile, [order[1] as QueuedEvent], "now", [], clock);
      for (const r of [together, apart])
        expect(r.profile.consent).toMatchObject({ tracking: false, unsubscribed: true });
    }
    // a later second still decides
    const later = applyEvents(emptyProfile("u", "x"), [off, { ...on, id: "on2", ts: 101 }], "now", [], {});
    expect(later.profile.consent).toMatchObject({ tracking: true, unsubscribed: false });
  });

  it("records nothing that happened while tracking was off, though it arrives after the opt-in", () => {
    // off at 100, on again at 200, each in a batch of its own
    const clock = {};
    const off = applyEvents(emptyProfile("u", "x"), [consent("off", 100, false)], "now", [], clock);
    const on = applyEvents(off.profile, [consent("on", 200, true)], "now", [], clock);
    expect(on.profile.consent.tracking).toBe(true);
    // an app's queue flushed late: a view of the off span, one before it and one after the opt-in
    const late = applyEvents(
      on.profile,
      [e("during", "view", 150, "a"), e("before", "view", 90, "b"), e("after", "view", 200, "c")],
      "now",
      [],
      clock,
    );
    expect(late).toMatchObject({ applied: 2, refused: 1 });
    expect(late.appliedIds.sort()).toEqual(["after", "before"]);
    expect(late.profile.recentItems.map((r) => r.item).sort()).toEqual(["b", "c"]);
    // an opt-out that arrives after a newer opt-in changes nothing, but its span is no less off
    const clock2 = {};
    const on2 = applyEvents(emptyProfile("u", "x"), [consent("on2", 200, true)], "now", [], clock2);
    const stale = applyEvents(on2.profile, [consent("off2", 100, false)], "now", [], clock2);
    expect(stale.profile.consent.tracking).toBe(true);
    expect(applyEvents(stale.profile, [e("mid", "view", 150, "a")], "now", [], clock2).refused).toBe(1);
  });

  it("keeps an off span's start when the reader opts out again before opting back in", () => {
    const clock = {};
    let p = emptyProfile("u", "x");
    for (const [id, ts, tracking] of [
      ["off", 100, false],
      ["off-again", 150, false],
      ["on", 200, true],
    ] as const) {
      p = applyEvents(p, [consent(id, ts, tracking)], "now", [], clock).profile;
    }
    expect(p.consent.tracking).toBe(true);
    const late = applyEvents(
      p,
      [e("first-half", "view", 120, "a"), e("second-half", "view", 170, "b")],
      "now",
      [],
      clock,
    );
    expect(late).toMatchObject({ applied: 0, refused: 2 });
    // tracking on again, then off: a new span starts at the new opt-out
    const on = applyEvents(late.profile, [consent("off-3", 300, false), consent("on-3", 400, true)], "now", [], clock);
    const after = applyEvents(
      on.profile,
      [e("between", "view", 250, "c"), e("in-3", "view", 350, "d")],
      "now",
      [],
      clock,
    );
    expect(after.appliedIds).toEqual(["between"]);
    // the same two opt-outs arriving latest first: the span still starts at the earlier one
    const clock2 = {};
    let q = emptyProfile("u", "x");
    for (const [id, ts, tracking] of [
      ["off-again", 150, false],
      ["off", 100, false],
      ["on", 200, true],
    ] as const) {
      q = applyEvents(q, [consent(id, ts, tracking)], "now", [], clock2).profile;
    }
    expect(applyEvents(q, [e("first-half", "view", 120, "a")], "now", [], clock2).refused).toBe(1);
    // a second opt-out of the span arriving after the opt-in (a retry): the span keeps its start
    const clock3 = {};
    let r = emptyProfile("u", "x");
    for (const [id, ts, tracking] of [
      ["off", 100, false],
      ["on", 200, true],
      ["off-again", 150, false],
    ] as const) {
      r = applyEvents(r, [consent(id, ts, tracking)], "now", [], clock3).profile;
    }
    expect(r.consent.tracking).toBe(true);
    expect(applyEvents(r, [e("first-half", "view", 120, "a")], "now", [], clock3).refused).toBe(1);
    // two opt-outs made before the opt-in, both arriving after it, in either order: the span starts at the earlier
    for (const order of [
      [150, 100],
      [100, 150],
    ]) {
      const clock4 = {};
      let q4 = applyEvents(emptyProfile("u", "x"), [consent("on", 200, true)], "now", [], clock4).profile;
      for (const ts of order) q4 = applyEvents(q4, [consent(`off-${ts}`, ts, false)], "now", [], clock4).profile;
      expect(applyEvents(q4, [e("mid", "view", 120, "a")], "now", [], clock4).refused).toBe(1);
    }
  });

  it("a consent change naming a topic twice keeps it once (a form that ticks it in two places, an API client)", () => {
    const change: QueuedEvent = {
      id: "topics-1",
      user: "u",
      type: "consent",
      ts: 100,
      consent: { topics: ["lamps", "rugs", "lamps", ...Array.from({ length: 60 }, () => "rugs"), "mugs"] },
    };
    expect(applyEvents(emptyProfile("u", "x"), [change], "now").profile.consent.topics).toEqual([
      "lamps",
      "rugs",
      "mugs",
    ]);
  });

  it("the consent API counts a topic named twice once: 50 distinct topics with repeats are taken, 51 are not", () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `topic-${i}`);
    const taken = ConsentChangeSchema.safeParse({ topics: [...fifty, ...fifty, "topic-0"] });
    expect(taken.success && taken.data.topics).toEqual(fifty);
    const refused = ConsentChangeSchema.safeParse({ topics: [...fifty, "topic-50", "topic-0"] });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.message).toMatch(/50 distinct topics/);
  });

  it("repairs a stored consent field by field, and one never stored as before: nothing stops sends", () => {
    const broken = { ...emptyProfile("u", "x").consent, unsubscribed: true, pausedUntil: -5, topics: ["", "lamps"] };
    expect(salvageConsent(broken)).toMatchObject({ unsubscribed: true, pausedUntil: 0, topics: ["lamps"] });
    expect(salvageConsent({ ...broken, unsubscribed: "yes" }).unsubscribed).toBe(true);
    // a profile of a version before consent existed, or not an object at all: no unsubscribe the reader never made
    for (const none of [undefined, null, "x"])
      expect(salvageConsent(none)).toMatchObject({ personalization: false, tracking: false, unsubscribed: false });
    const v2 = { ...emptyProfile("u", "x"), v: 2, consent: undefined, propensity: 1.5 };
    expect(salvageProfile(v2, "u", "x").profile.consent).toMatchObject({ unsubscribed: false, tracking: false });
  });

  it("records nothing for a user who opted out of tracking", () => {
    const p = { ...emptyProfile("u", "x"), consent: { ...emptyProfile("u", "x").consent, tracking: false } };
    const r = applyEvents(p, [e("1", "view", 1, "a")], "now");
    expect(r).toMatchObject({ applied: 0, refused: 1 });
    expect(r.profile).toBe(p);
  });
});
