/**
 * The live catalog's ordering guard in workerd: a PATCH item's `at` (when the shop's system made the change) keeps
 * an older change, retried after a newer one has landed, from overwriting it, field by field; the times are kept
 * in the writer's own storage (bounded), never in the overlay published to KV.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import { catalogWriter } from "../../worker/catalog/catalog-stub";
import { pruneStamps } from "../../worker/state/catalog-stamps";
import type { CatalogWriter } from "../../worker/state/catalog-writer";
import { adminRequest } from "./support/webhook-receiver";

/** An hour ago: every time below is after it, and never ahead of the clock. */
const BASE = Date.now() - 3_600_000;
/** `s` seconds after BASE, in UTC (`...Z`). */
const at = (s: number) => new Date(BASE + s * 1000).toISOString();
/** The same instant written in the +01:00 zone. */
const atPlusOne = (s: number) => new Date(BASE + s * 1000 + 3_600_000).toISOString().replace("Z", "+01:00");

interface Answer {
  version: number;
  changed: number;
  published: boolean;
  stale: { id: string; fields: string[] }[];
}

async function patch(items: unknown[]): Promise<Answer> {
  const res = await adminRequest("/v1/admin/catalog", "PATCH", { items });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

async function overlay(id: string): Promise<Record<string, unknown> | null> {
  const res = await adminRequest(`/v1/admin/catalog/items/${encodeURIComponent(id)}`, "GET");
  expect(res.status).toBe(200);
  return ((await res.json()) as { overlay: Record<string, unknown> | null }).overlay;
}

/** How long the publication poll waits before it calls a change lost (a loaded machine, not the product's speed). */
const LOST_AFTER_MS = 15_000;

/** Waits until KV's live-catalog version has reached `version`, running the writer's alarm between polls. */
async function published(version: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    const pointer = await env.OPENTIME_KV.get<{ version: number }>(kvKeys.liveCatalogVersion, "json");
    if ((pointer?.version ?? 0) >= version) return;
    if (Date.now() - start > LOST_AFTER_MS) throw new Error(`version ${version} not published in ${LOST_AFTER_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
    await runDurableObjectAlarm(catalogWriter(env));
  }
}

describe("live catalog: changes with a time", () => {
  it("an older change retried after a newer one is not applied, and the answer names it stale", async () => {
    const newer = await patch([{ id: "ord-1", stock: 0, at: at(60) }]);
    expect(newer).toMatchObject({ changed: 1, stale: [] });
    // the 10:00 change (stock 5), answered 503 and sent again, lands after the 10:01 one (stock 0)
    const older = await patch([{ id: "ord-1", stock: 5, at: at(0) }]);
    expect(older.changed).toBe(0);
    expect(older.stale).toEqual([{ id: "ord-1", fields: ["stock"] }]);
    expect(older.version).toBe(newer.version); // nothing changed: no new version
    expect(await overlay("ord-1")).toEqual({ stock: 0 });
    // the zone is read: 30 s after BASE written in +01:00 is still older than 60 s after it
    const zoned = await patch([{ id: "ord-1", stock: 4, at: atPlusOne(30) }]);
    expect(zoned.stale).toEqual([{ id: "ord-1", fields: ["stock"] }]);
    // a newer one applies
    const later = await patch([{ id: "ord-1", stock: 7, at: atPlusOne(120) }]);
    expect(later).toMatchObject({ changed: 1, stale: [] });
    expect(await overlay("ord-1")).toEqual({ stock: 7 });
  });

  it("an equal time applies: the same PATCH sent again is taken as it was", async () => {
    const first = await patch([{ id: "ord-2", stock: 3, price: 9.5, at: at(10) }]);
    expect(first).toMatchObject({ changed: 1, stale: [] });
    const again = await patch([{ id: "ord-2", stock: 3, price: 9.5, at: at(10) }]);
    expect(again).toMatchObject({ changed: 0, stale: [] });
    // another change stamped the same instant applies too (last writer wins among equals)
    const same = await patch([{ id: "ord-2", stock: 2, at: atPlusOne(10) }]);
    expect(same).toMatchObject({ changed: 1, stale: [] });
    expect(await overlay("ord-2")).toEqual({ stock: 2, price: 9.5 });
  });

  it("fields are judged one by one: a newer price applies where an older stock does not", async () => {
    // the stock feed's change at 0:30, the price feed's at 0:10
    await patch([{ id: "ord-3", stock: 0, at: at(30) }]);
    await patch([{ id: "ord-3", price: 20, at: at(10) }]);
    // one item of 0:20 naming both: its price is newer than the price's, its stock older than the stock's
    const mixed = await patch([{ id: "ord-3", stock: 8, price: 18, at: at(20) }]);
    expect(mixed.changed).toBe(1);
    expect(mixed.stale).toEqual([{ id: "ord-3", fields: ["stock"] }]);
    expect(await overlay("ord-3")).toEqual({ stock: 0, price: 18 });
    // several items: only those with stale fields are listed, in the PATCH's order
    const many = await patch([
      { id: "ord-3", stock: 1, title: "Lamp", at: at(5) },
      { id: "ord-3b", stock: 1, at: at(5) },
    ]);
    expect(many.stale).toEqual([{ id: "ord-3", fields: ["stock"] }]);
    expect(await overlay("ord-3")).toEqual({ stock: 0, price: 18, title: "Lamp" });
  });

  it("a null with a time keeps the field's time: an older value cannot come back after the field was cleared", async () => {
    await patch([{ id: "ord-4", stock: 0, at: at(10) }]);
    const cleared = await patch([{ id: "ord-4", stock: null, at: at(20) }]);
    expect(cleared).toMatchObject({ changed: 1, stale: [] });
    expect(await overlay("ord-4")).toBeNull();
    const retried = await patch([{ id: "ord-4", stock: 0, at: at(10) }]);
    expect(retried).toMatchObject({ changed: 0, stale: [{ id: "ord-4", fields: ["stock"] }] });
    expect(await overlay("ord-4")).toBeNull();
    // an older null does not clear a newer value either
    await patch([{ id: "ord-4", stock: 6, at: at(40) }]);
    const oldNull = await patch([{ id: "ord-4", stock: null, at: at(30) }]);
    expect(oldNull.stale).toEqual([{ id: "ord-4", fields: ["stock"] }]);
    expect(await overlay("ord-4")).toEqual({ stock: 6 });
  });

  it("an item without a time applies as before (last writer wins) and leaves the times as they were", async () => {
    await patch([{ id: "ord-5", stock: 0, at: at(50) }]);
    const untimed = await patch([{ id: "ord-5", stock: 5 }]);
    expect(untimed).toMatchObject({ changed: 1, stale: [] });
    expect(await overlay("ord-5")).toEqual({ stock: 5 });
    // the time of 0:50 still stands: a change of 0:40 is older
    const older = await patch([{ id: "ord-5", stock: 9, at: at(40) }]);
    expect(older.stale).toEqual([{ id: "ord-5", fields: ["stock"] }]);
    expect(await overlay("ord-5")).toEqual({ stock: 5 });
    // untimed changes of items never given a time are as they were
    expect(await patch([{ id: "ord-5b", price: 3 }])).toMatchObject({ changed: 1, stale: [] });
    expect(await patch([{ id: "ord-5b", price: 2 }])).toMatchObject({ changed: 1, stale: [] });
  });

  it("a bad time, or one ahead of the clock, is 400 BAD_REQUEST naming the field; nothing is set", async () => {
    const ahead = new Date(Date.now() + 86_400_000).toISOString();
    const cases: [unknown, RegExp][] = [
      ["2026-11-22T10:00:00", /^items\[1\]\.at: must be an ISO-8601 time with its zone/],
      ["2026-11-22", /^items\[1\]\.at: must be an ISO-8601 time with its zone/],
      ["2026-02-31T10:00:00Z", /^items\[1\]\.at: must be an ISO-8601 time with its zone/],
      ["yesterday", /^items\[1\]\.at: must be an ISO-8601 time with its zone/],
      [1_790_000_000, /^items\[1\]\.at: must be an ISO-8601 time with its zone/],
      [null, /^items\[1\]\.at: must be an ISO-8601 time with its zone/],
      [ahead, /^items\[1\]\.at: .*more than 5 minutes ahead/],
    ];
    for (const [value, message] of cases) {
      const res = await adminRequest("/v1/admin/catalog", "PATCH", {
        items: [
          { id: "ord-6", stock: 1 },
          { id: "ord-6b", stock: 1, at: value },
        ],
      });
      expect(res.status, JSON.stringify(value)).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("BAD_REQUEST");
      expect(body.error.message).toMatch(message);
    }
    expect(await overlay("ord-6")).toBeNull();
    expect(await overlay("ord-6b")).toBeNull();
  });

  it("a time months old applies to a field never timed (a resync by each item's time of last change), and is kept", async () => {
    const day = 86_400_000;
    const monthsAgo = (days: number) => new Date(Date.now() - days * day).toISOString();
    expect(await patch([{ id: "ord-7", stock: 4, at: monthsAgo(90) }])).toMatchObject({ changed: 1, stale: [] });
    expect(await overlay("ord-7")).toEqual({ stock: 4 });
    // the same resync again sets what it set; a change made since wins over an older one sent after it
    expect(await patch([{ id: "ord-7", stock: 4, at: monthsAgo(90) }])).toMatchObject({ stale: [] });
    await patch([{ id: "ord-7", stock: 0, at: monthsAgo(1) }]);
    expect((await patch([{ id: "ord-7", stock: 4, at: monthsAgo(90) }])).stale).toEqual([
      { id: "ord-7", fields: ["stock"] },
    ]);
    expect(await overlay("ord-7")).toEqual({ stock: 0 });
  });

  it("the times are kept by the writer alone, never in the overlay published to KV", async () => {
    const answer = await patch([{ id: "ord-8", stock: 0, price: 4, at: at(70) }]);
    await published(answer.version);
    const text = (await env.OPENTIME_KV.get(kvKeys.liveCatalog)) ?? "";
    const items = (JSON.parse(text) as { items: Record<string, unknown> }).items;
    expect(items["ord-8"]).toEqual({ stock: 0, price: 4 });
    expect(text).not.toContain('"at"');
    expect(text).not.toContain(String(BASE + 70_000));
    expect(text).not.toContain(at(70));
    expect(await overlay("ord-8")).toEqual({ stock: 0, price: 4 });
    // the writer holds them, one per item and field
    const held = await runInDurableObject(catalogWriter(env), async (_: CatalogWriter, state) =>
      state.storage.sql
        .exec<{ field: string; at: number }>("SELECT field, at FROM stamps WHERE id = ? ORDER BY field", "ord-8")
        .toArray(),
    );
    expect(held).toEqual([
      { field: "price", at: BASE + 70_000 },
      { field: "stock", at: BASE + 70_000 },
    ]);
  });

  it("past its bound of times the writer drops the oldest, and takes no change older than those dropped", async () => {
    await patch([{ id: "ord-9", stock: 3, at: at(200) }]);
    await patch([{ id: "ord-9b", stock: 3, at: at(300) }]);
    // as if the bound were one time: the oldest of those held (ord-9's, and every earlier test's) are dropped
    await runInDurableObject(catalogWriter(env), async (_: CatalogWriter, state) => {
      pruneStamps(state.storage.sql, 1);
      const left = state.storage.sql.exec<{ id: string }>("SELECT id FROM stamps").toArray();
      expect(left).toEqual([{ id: "ord-9b" }]);
    });
    // ord-9's time is gone, but a change older than it is still refused (older than the newest dropped)
    const older = await patch([{ id: "ord-9", stock: 1, at: at(150) }]);
    expect(older.stale).toEqual([{ id: "ord-9", fields: ["stock"] }]);
    // so is one of an item never timed, older than that; a newer change applies
    expect((await patch([{ id: "ord-9c", stock: 1, at: at(199) }])).stale).toEqual([
      { id: "ord-9c", fields: ["stock"] },
    ]);
    expect(await patch([{ id: "ord-9", stock: 2, at: at(200) }])).toMatchObject({ changed: 1, stale: [] });
    expect(await overlay("ord-9")).toEqual({ stock: 2 });
    // the count kept in meta is the table's, after the drop and the writes since
    await runInDurableObject(catalogWriter(env), async (_: CatalogWriter, state) => {
      const held = state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM stamps").one().n;
      const kept = state.storage.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'stamp_count'").one();
      expect(kept.value).toBe(held);
    });
  });

  it("a timed PATCH of 1,000 items costs a few SQL statements more than an untimed one, not two per field", async () => {
    const all = (i: number, r: number) => ({
      id: `ord-10-${i}`,
      stock: r,
      price: r,
      active: true,
      title: `t${r}`,
      image: "/i.png",
      url: `/p/${r}`,
      category: "c",
      currency: "EUR",
      tags: [`t${r}`],
    });
    const counts = await runInDurableObject(catalogWriter(env), async (instance: CatalogWriter, state) => {
      const sql = (instance as unknown as { sql: SqlStorage }).sql;
      const exec = sql.exec.bind(sql);
      let statements = 0;
      (sql as unknown as { exec: typeof exec }).exec = ((...args: Parameters<typeof exec>) => {
        statements++;
        return exec(...args);
      }) as typeof exec;
      const run = async (items: unknown[]) => {
        statements = 0;
        const answer = await instance.patch(items as Parameters<CatalogWriter["patch"]>[0]);
        expect(answer).toMatchObject({ ok: true, changed: 1000, stale: [] });
        return statements;
      };
      const untimed = await run(Array.from({ length: 1000 }, (_, i) => all(i, 1)));
      // 9,000 stamps inserted, then 9,000 moved forward: the untimed PATCH's statements and a few dozen more (it was two per stamp)
      const inserted = await run(Array.from({ length: 1000 }, (_, i) => ({ ...all(i, 2), at: at(400) })));
      const updated = await run(Array.from({ length: 1000 }, (_, i) => ({ ...all(i, 3), at: at(500) })));
      // the count kept in meta is the table's
      const held = state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM stamps").one().n;
      const kept = state.storage.sql
        .exec<{ value: number }>("SELECT value FROM meta WHERE key = 'stamp_count'")
        .one().value;
      expect(kept).toBe(held);
      return { untimed, inserted, updated };
    });
    expect(counts.inserted - counts.untimed, JSON.stringify(counts)).toBeLessThanOrEqual(30);
    expect(counts.updated - counts.untimed, JSON.stringify(counts)).toBeLessThanOrEqual(30);
    const stamps = await runInDurableObject(catalogWriter(env), async (_: CatalogWriter, state) =>
      state.storage.sql
        .exec<{ field: string; at: number }>("SELECT field, at FROM stamps WHERE id = ? ORDER BY field", "ord-10-7")
        .toArray(),
    );
    expect(stamps).toHaveLength(9);
    expect(stamps.every((s) => s.at === BASE + 500_000)).toBe(true);
    // an older change of every field is stale after them, field by field
    const older = await patch([{ id: "ord-10-7", stock: 9, tags: null, at: at(450) }]);
    expect(older).toMatchObject({ changed: 0, stale: [{ id: "ord-10-7", fields: ["stock", "tags"] }] });
  });
});
