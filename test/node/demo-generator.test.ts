/** The demo shop: same seed same bytes, the default sizes the quick start promises, real rhythms. */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type DemoSummary, generateDemo } from "../../scripts/demo/generate";

const hash = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

describe("demo shop generator", () => {
  const base = mkdtempSync(join(tmpdir(), "ot-demo-"));
  let full: DemoSummary;

  beforeAll(async () => {
    full = await generateDemo(join(base, "default"));
  });

  it("writes the promised sizes by default", () => {
    expect(full.products).toBeGreaterThanOrEqual(2000);
    expect(full.categories).toBeGreaterThanOrEqual(20);
    expect(full.customers).toBeGreaterThanOrEqual(5000);
    expect(full.events).toBeGreaterThanOrEqual(200_000);
    expect(full.lastEventTs - full.firstEventTs).toBeGreaterThan(350 * 86400);
    for (const t of ["view", "cart_add", "purchase", "email_open", "email_click"])
      expect(full.eventsByType[t]).toBeGreaterThan(1000);
  });

  it("gives the same bytes for the same seed and different ones for another", async () => {
    const a = await generateDemo(join(base, "a"), { products: 100, customers: 200, seed: 3 });
    const b = await generateDemo(join(base, "b"), { products: 100, customers: 200, seed: 3 });
    await generateDemo(join(base, "c"), { products: 100, customers: 200, seed: 4 });
    expect(a.events).toBe(b.events);
    expect(hash(join(base, "a/events.csv"))).toBe(hash(join(base, "b/events.csv")));
    expect(hash(join(base, "a/products.json"))).toBe(hash(join(base, "b/products.json")));
    expect(hash(join(base, "a/events.csv"))).not.toBe(hash(join(base, "c/events.csv")));
  });

  it("takes a date alone as its whole day: --end 2026-10-31 is the default's window", async () => {
    const small = { products: 100, customers: 200, seed: 3 };
    await generateDemo(join(base, "dated"), { ...small, end: "2026-10-31" });
    await generateDemo(join(base, "timed"), { ...small, end: "2026-10-31T23:59:59Z" });
    expect(hash(join(base, "dated/events.csv"))).toBe(hash(join(base, "timed/events.csv")));
  });

  it("has daily and weekly rhythms", () => {
    const lines = readFileSync(join(base, "default/events.csv"), "utf8").trim().split("\n").slice(1);
    const byHour = new Array(24).fill(0);
    const byDay = new Array(7).fill(0);
    for (const line of lines) {
      const [, , type, , tsRaw] = line.split(",");
      if (type !== "view") continue; // shopping sessions; email opens follow the campaign calendar instead
      const ts = Number(tsRaw);
      const d = new Date(ts * 1000);
      byHour[d.getUTCHours()]++;
      byDay[d.getUTCDay()]++;
    }
    expect(Math.max(...byHour)).toBeGreaterThan(3 * Math.min(...byHour));
    expect(byDay[0]).toBeGreaterThan(1.15 * (byDay[2] as number));
  });

  it("refuses sizes outside the supported range", async () => {
    await expect(generateDemo(join(base, "x"), { products: 200_000 })).rejects.toThrow(/--products/);
  });
});
