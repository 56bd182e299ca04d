/**
 * An event's fields are a closed set: one the API does not read (a purchase's `value` sent beside `properties`
 * rather than in it, a misspelt `campaign`) is refused, named with where it belongs, never taken without it (an
 * event is kept once by its id: taken without its value, it could never be mended by sending it again).
 */
import { describe, expect, it } from "vitest";
import { applyEvents } from "../../core/apply-events";
import { EVENT_FIELDS, IncomingEventSchema } from "../../core/events";
import { emptyProfile } from "../../core/profile";
import { validateEvents } from "../../worker/events/event-batch";

const NOW = 1_800_000_000;
const purchase = { id: "o-1", type: "purchase", user: "c1", item: "p1", ts: NOW };

describe("an event's top-level fields", () => {
  it("refuses a purchase's value at the top level, naming it and where it belongs", () => {
    const { accepted, rejected } = validateEvents([{ ...purchase, value: 42.5 }], 30, NOW);
    expect(accepted).toEqual([]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.code).toBe("INVALID_EVENT");
    // as the README quotes it: the message names the field, with no path before it (`(root): ` said nothing)
    expect(rejected[0]?.message).toMatch(/^unknown field "value": it belongs in properties\.value/);
  });

  it("names where each misplaced field of any type belongs, and a field nobody documented", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...purchase, properties: { value: 1 }, currency: "EUR" }, "it belongs in properties.currency"],
      [{ ...purchase, price: 3, quantity: 2 }, '"price": it belongs in properties.price'],
      [{ id: "v1", type: "view", user: "c1", item: "p1", ts: NOW, campaign_id: "spring" }, "belongs in campaign"],
      [{ id: "v2", type: "email_open", user: "c1", ts: NOW, timestamp: NOW }, '"timestamp": it belongs in ts'],
      [
        { ...purchase, name: "Blue mug" },
        `"name": it belongs in type (the event's kind), or in properties (a product's name)`,
      ],
      [{ id: "v3", type: "custom", user: "c1", ts: NOW, source: "app" }, 'unknown field "source": a property goes in'],
    ];
    for (const [event, said] of cases) {
      const { rejected } = validateEvents([event], 30, NOW);
      expect(
        rejected.map((r) => r.code),
        said,
      ).toEqual(["INVALID_EVENT"]);
      expect(rejected[0]?.message).toContain(said);
    }
  });

  it("says a left-out type (an enum) is missing, as a left-out string is", () => {
    const { type: _, ...untyped } = purchase;
    const { rejected } = validateEvents([untyped], 30, NOW);
    expect(rejected.map((r) => r.code)).toEqual(["INVALID_EVENT"]);
    expect(rejected[0]?.message).toMatch(/^type: required, but missing \(expected /);
  });

  it("answers a small message whatever the fields sent (their names cut, three named)", () => {
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`${"k".repeat(5000)}${i}`, 1]));
    const { rejected } = validateEvents([{ ...purchase, ...many }], 30, NOW);
    expect(rejected[0]?.code).toBe("INVALID_EVENT");
    expect(rejected[0]?.message.length).toBeLessThan(400);
    expect(rejected[0]?.message).toMatch(/^2000 unknown fields, the first 3: unknown field "k{40}…"/);
  });

  it("takes the documented fields, and a value in properties, as before", () => {
    const { accepted, rejected } = validateEvents(
      [{ ...purchase, campaign: "spring", properties: { value: 42.5, currency: "EUR", note: "gift" } }],
      30,
      NOW,
    );
    expect(rejected).toEqual([]);
    expect(accepted[0]).toMatchObject({ value: 42.5, currency: "EUR", campaign: "spring" });
    // the list the message gives is the schema's own
    expect(Object.keys(IncomingEventSchema.shape)).toEqual([...EVENT_FIELDS]);
  });
});

describe("an event's properties", () => {
  it("refuses a value that is no string, number or boolean saying what it is, and a long name saying the limit", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ coupon: null }, "properties.coupon: must be a string, a number or a boolean, not null"],
      [{ value: null }, "properties.value: must be a string, a number or a boolean, not null"],
      [{ lines: [{ sku: "a", qty: 1 }] }, "properties.lines: must be a string, a number or a boolean, not an array"],
      [{ shipping: { method: "post" } }, "properties.shipping: must be a string, a number or a boolean, not an object"],
      [{ [`${"k".repeat(65)}`]: 1 }, "a property name is at most 64 characters"],
    ];
    for (const [properties, said] of cases) {
      const { rejected } = validateEvents([{ ...purchase, properties: { value: 1, ...properties } }], 30, NOW);
      expect(
        rejected.map((r) => r.code),
        said,
      ).toEqual(["INVALID_EVENT"]);
      expect(rejected[0]?.message).toContain(said);
    }
    // the other rules keep their own words
    const long = validateEvents([{ ...purchase, properties: { note: "x".repeat(513) } }], 30, NOW).rejected;
    expect(long[0]?.message).toMatch(/^properties\.note: Too big: expected string to have <=512 characters/);
  });
});

describe("an event's time", () => {
  it("reads a date of the years 0-99 as the date it is: out of range, not text that is no date", () => {
    // .NET's DateTime.MinValue, what a time never set serializes to
    for (const ts of ["0001-01-01T00:00:00", "0099-12-31", "0000-01-01T00:00:00Z"]) {
      const { rejected } = validateEvents([{ ...purchase, properties: { value: 1 }, ts }], 365 * 100, NOW);
      expect(
        rejected.map((r) => r.code),
        ts,
      ).toEqual(["TIMESTAMP_OUT_OF_RANGE"]);
      expect(rejected[0]?.message).toContain(`ts ${ts.slice(0, 10)}T00:00:00Z is `);
    }
    // a day the calendar lacks is still no date
    const { rejected } = validateEvents([{ ...purchase, ts: "0001-02-29" }], 30, NOW);
    expect(rejected.map((r) => r.code)).toEqual(["INVALID_EVENT"]);
  });
});

describe("an event's id within a batch", () => {
  const line = (item: string, user = "c1") => ({ ...purchase, user, item, properties: { value: 5 } });

  it("refuses a later event of the same reader and id with other fields, naming the first: it would never apply", () => {
    // an order's id given to each of its lines
    const lines = [line("p1"), line("p2")];
    const { accepted, rejected } = validateEvents(lines, 30, NOW);
    expect(accepted.map((e) => e.item)).toEqual(["p1"]);
    expect(rejected.map((r) => [r.index, r.code])).toEqual([[1, "DUPLICATE_EVENT_ID"]]);
    expect(rejected[0]?.message).toMatch(/^event 0 of this batch has this id for the same user, with other fields/);
    // why: a reader's profile takes an id once, so the second line was taken for a repeat and lost
    const both = validateEvents([line("p1")], 30, NOW).accepted.concat(validateEvents([line("p2")], 30, NOW).accepted);
    const applied = applyEvents(emptyProfile("c1", "x"), both, "now");
    expect(applied.profile.purchases.map((p) => p.item)).toEqual(["p1"]);
  });

  it("takes a repeat (applied once), also at another time, the same id for two readers, and one after a refused one", () => {
    expect(validateEvents([line("p1"), line("p1")], 30, NOW)).toMatchObject({ rejected: [] });
    // its time alone differs: an id given to count something once (each view of an item in a session)
    expect(validateEvents([line("p1"), { ...line("p1"), ts: NOW - 60 }], 30, NOW)).toMatchObject({ rejected: [] });
    expect(validateEvents([line("p1"), line("p2", "c2")], 30, NOW)).toMatchObject({ rejected: [] });
    const afterRefused = validateEvents([{ ...line("p1"), ts: "yesterday" }, line("p2")], 30, NOW);
    expect(afterRefused.accepted.map((e) => e.item)).toEqual(["p2"]);
    expect(afterRefused.rejected.map((r) => r.code)).toEqual(["INVALID_EVENT"]);
  });
});
