/**
 * The shard's applied ids in workerd (worker/state/applied-table.ts): every id an event API or email route gives
 * is kept for good (exact idempotency), the pixel's are not: anyone holding an email can mint one per load, so
 * a reader keeps their newest 1,000 and each goes 30 days after it was applied, deleted by the shard's alarm. A
 * beacon without `eid` gets a `pixel:` id too, and the events API refuses ids of its own that begin so.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { MAX_PIXEL_IDS_PER_READER, migrateAppliedTable, PIXEL_IDS_KEPT_MS } from "../../worker/state/applied-table";
import type { ReaderShard } from "../../worker/state/reader-shard";
import { readerStub } from "../../worker/state/shard-routing";
import { TEST_EVENTS_KEY } from "./fixture";
import { call, recordingQueue, send, token } from "./support/harness";

const now = () => Math.floor(Date.now() / 1000);

function views(user: string, ids: string[]): QueuedEvent[] {
  return ids.map((id, i) => ({ id, type: "view", user, item: `p${i % 7}`, ts: now() - 60 }));
}

async function appliedIds(user: string): Promise<{ count: number; ids: string[] }> {
  return (await readerStub(env, user).access(user, 5_000)).applied;
}

/** The shard's rows of the reader's ids, with when each expires (null: kept for good). */
function rowsOf(user: string): Promise<{ id: string; expires: number | null }[]> {
  return runInDurableObject(readerStub(env, user), (_, state) =>
    state.storage.sql
      .exec<{ id: string; expires: number | null }>("SELECT id, expires FROM applied WHERE user = ? ORDER BY id", user)
      .toArray(),
  );
}

describe("the pixel's ids", () => {
  it("a reader keeps their newest 1,000; the ids the shop's API and the email routes gave are all kept", async () => {
    const user = "ids-capped";
    const stub = readerStub(env, user);
    const older = Array.from({ length: 600 }, (_, i) => `pixel:a${String(i).padStart(4, "0")}`);
    const newer = Array.from({ length: 500 }, (_, i) => `pixel:b${String(i).padStart(4, "0")}`);
    const own = ["order-1", "open:spring:s1", "view-2"];
    await stub.apply(views(user, [...own, ...older]));
    // a later call: its ids expire later, so they are the newest
    await new Promise((r) => setTimeout(r, 5));
    await stub.apply(views(user, newer));
    const { count, ids } = await appliedIds(user);
    expect(count).toBe(MAX_PIXEL_IDS_PER_READER + own.length);
    expect(ids).toEqual(expect.arrayContaining([...own, ...newer]));
    expect(ids.filter((id) => id.startsWith("pixel:a"))).toHaveLength(MAX_PIXEL_IDS_PER_READER - newer.length);
    // applying one of the kept ids again is a duplicate; the shop's ids stay exact whatever the pixel did
    expect(await stub.apply(views(user, ["pixel:b0499", "order-1"]))).toEqual(["duplicate", "duplicate"]);
  });

  it("expire 30 days after they were applied, deleted by the shard's alarm; the others are kept for good", async () => {
    const user = "ids-expiring";
    const stub = readerStub(env, user);
    const before = Date.now();
    await stub.apply(views(user, ["pixel:e1", "api-e2"]));
    const rows = await rowsOf(user);
    expect(rows.find((r) => r.id === "api-e2")?.expires).toBeNull();
    const expires = rows.find((r) => r.id === "pixel:e1")?.expires ?? 0;
    expect(expires).toBeGreaterThanOrEqual(before + PIXEL_IDS_KEPT_MS);
    expect(expires).toBeLessThanOrEqual(Date.now() + PIXEL_IDS_KEPT_MS);
    // the alarm stands for no later than an hour after the pixel id expires
    const alarm = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm as number).toBeLessThanOrEqual(expires + 3_600_000);
    // 30 days on: the pixel's id is gone at the alarm, the API's stays
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE applied SET expires = ? WHERE user = ? AND id = 'pixel:e1'", Date.now() - 1, user);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await rowsOf(user)).map((r) => r.id)).toEqual(["api-e2"]);
  });

  it("a beacon without eid records a pixel: id (random), so its row expires too", async () => {
    const { queue, sent } = recordingQueue();
    const res = await call(`/v1/e/${await token("ids-beacon")}?type=view&item=p1`, {}, { ...env, EVENTS: queue });
    expect(res.headers.get("X-Opentime-Recorded")).toBe("yes");
    expect(sent).toHaveLength(1);
    expect(sent[0]?.id).toMatch(/^pixel:[0-9a-f-]{36}$/);
  });

  it("an id of the events API that begins with pixel: is refused, naming the field", async () => {
    const { queue, sent } = recordingQueue();
    const res = await send(
      "/v1/events",
      {
        method: "POST",
        headers: { Authorization: `Bearer ${TEST_EVENTS_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({
          events: [{ id: "pixel:order-9", type: "view", user: "ids-api", item: "p1", ts: now() }],
        }),
      },
      { ...env, EVENTS: queue },
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { rejected: { index: number; code: string; message: string }[] };
    expect(body.rejected).toHaveLength(1);
    expect(body.rejected[0]?.code).toBe("INVALID_EVENT");
    expect(body.rejected[0]?.message).toMatch(/id.*pixel:/s);
    expect(sent).toEqual([]);
  });
});

describe("a table of an earlier version", () => {
  it("gains the expiry with every id it held kept for good", async () => {
    // an object of its own, which no reader is routed to
    const readers = env.READERS as DurableObjectNamespace<ReaderShard>;
    const stub = readers.get(readers.idFromName("applied-ids-migration"));
    const kept = await runInDurableObject(stub, (_, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE applied");
      sql.exec("CREATE TABLE applied (user TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (user, id)) WITHOUT ROWID");
      sql.exec("INSERT INTO applied (user, id) VALUES ('ids-migrated', 'pixel:old'), ('ids-migrated', 'order-old')");
      migrateAppliedTable(sql);
      migrateAppliedTable(sql);
      return sql.exec<{ id: string; expires: number | null }>("SELECT id, expires FROM applied ORDER BY id").toArray();
    });
    expect(kept).toEqual([
      { id: "order-old", expires: null },
      { id: "pixel:old", expires: null },
    ]);
  });
});
