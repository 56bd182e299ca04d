/**
 * A reader's frequency preference reaches the shop's campaigns, in workerd through the real Worker and shards:
 * `POST /v1/admin/sends` records a campaign's send to its readers by their shards (never an erased reader's), and
 * `POST /v1/admin/suppressions` naming a campaign answers `frequency` for a reader with a preference whose latest
 * send (another campaign's, or a triggered one) is more recent than it allows; the campaign's own sends never
 * count (a rebuild), nor does anything without a campaign (an older builder). Shards that fail: 503, never an
 * answer that would let a reader be mailed, and never a send silently dropped.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import type { ReaderShard } from "../../worker/state/reader-shard";
import { readerStub, shardOf } from "../../worker/state/shard-routing";
import { ADMIN_HEADERS as ADMIN, consume, send } from "./support/harness";

type Bindings = typeof env;
const nowS = () => Math.floor(Date.now() / 1000);
const DAY = 86_400;

function post(path: string, body: unknown, bindings: Partial<Bindings> = {}): Promise<Response> {
  return send(path, { method: "POST", headers: ADMIN, body: JSON.stringify(body) }, {
    ...env,
    ...bindings,
  } as Bindings);
}

/** The readers the check holds back, each with why. */
async function held(users: string[], campaign?: string): Promise<Record<string, string>> {
  const res = await post("/v1/admin/suppressions", { users, ...(campaign && { campaign }) });
  expect(res.status, await res.clone().text()).toBe(200);
  const body = (await res.json()) as { suppressed: { user: string; reason: string }[] };
  return Object.fromEntries(body.suppressed.map((s) => [s.user, s.reason]));
}

async function record(campaign: string, users: string[]): Promise<number> {
  const res = await post("/v1/admin/sends", { campaign, users });
  expect(res.status, await res.clone().text()).toBe(200);
  const body = (await res.json()) as { campaign: string; recorded: number };
  expect(body.campaign).toBe(campaign);
  return body.recorded;
}

/** Sets the readers' consent through their shards (the snapshot the check reads is published on commit). */
function consent(user: string, change: QueuedEvent["consent"], ts = nowS()) {
  return consume([{ id: `consent:${user}:${ts}`, type: "consent", user, ts, consent: change }]);
}

/** A reader of another shard than `user`'s. */
function otherShardThan(user: string): string {
  for (let i = 0; ; i++) if (shardOf(`fq-other-${i}`) !== shardOf(user)) return `fq-other-${i}`;
}

/** Moves the reader's recorded sends `days` into the past, as time passing would. */
function age(user: string, days: number) {
  return runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
    state.storage.sql.exec(
      "UPDATE campaign_sends SET sent_at = sent_at - ?, issued_at = issued_at - ? WHERE user = ?",
      days * DAY,
      days * DAY,
      user,
    );
  });
}

/** The runtime's error for an object it could not reach (`retryable`: worker/errors.ts unavailableObject). */
const lost = () => Promise.reject(Object.assign(new Error("Network connection lost."), { retryable: true }));

/** A shard binding whose objects cannot be reached. */
const unreachable = {
  idFromName: (name: string) => env.READERS?.idFromName(name),
  get: () => ({ latestSends: lost, recordSends: lost, listStates: lost }),
} as unknown as Bindings["READERS"];

/**
 * Makes the reader's real shard throw a TypeError (a bug of ours) from every statement on its campaign sends, so
 * that recordSends and latestSends fail inside the object and the error crosses the RPC as it would; returns the
 * restore.
 */
async function buggySends(user: string): Promise<() => Promise<void>> {
  const stub = readerStub(env, user);
  const restore = await runInDurableObject(stub, (instance: ReaderShard) => {
    const sql = (instance as unknown as { sql: SqlStorage }).sql;
    const exec = sql.exec.bind(sql);
    (sql as { exec: SqlStorage["exec"] }).exec = ((query: string, ...bindings: unknown[]) => {
      if (query.includes("campaign_sends")) throw new TypeError("injected: a bug of ours");
      return exec(query, ...bindings);
    }) as SqlStorage["exec"];
    return () => {
      (sql as { exec: SqlStorage["exec"] }).exec = exec;
    };
  });
  return () => runInDurableObject(stub, () => restore());
}

describe("campaign sends and the reader's frequency preference", () => {
  it("another campaign's recent send holds a reader back as their preference says; the campaign's own never does", async () => {
    await consent("fq-weekly", { frequency: "weekly" });
    await consent("fq-monthly", { frequency: "monthly" });
    await consent("fq-daily", { frequency: "daily" });
    const users = ["fq-weekly", "fq-monthly", "fq-daily", "fq-none", "fq-never-seen"];
    expect(await record("nl-1", users)).toBe(users.length);
    // a rebuild or re-run of the same campaign: its own sends hold nobody back, recorded again or not
    expect(await held(users, "nl-1")).toEqual({});
    expect(await record("nl-1", users)).toBe(users.length);
    expect(await held(users, "nl-1")).toEqual({});
    // another campaign the same day: each reader with a preference is held back, the others are not
    expect(await held(users, "nl-2")).toEqual({
      "fq-weekly": "frequency",
      "fq-monthly": "frequency",
      "fq-daily": "frequency",
    });
    // without a campaign (a builder older than frequency), never
    expect(await held(users)).toEqual({});
    // eight days on: the weekly and daily readers may be mailed again, the monthly one not yet
    for (const user of users) await age(user, 8);
    expect(await held(users, "nl-2")).toEqual({ "fq-monthly": "frequency" });
    // after a month, nobody
    for (const user of users) await age(user, 23);
    expect(await held(users, "nl-2")).toEqual({});
  });

  it("a reader whose id is `__proto__` is held back by their own sends only, as any other", async () => {
    await consent("__proto__", { frequency: "weekly" });
    expect(Object.keys(await held(["__proto__"], "nl-proto-2"))).toEqual([]);
    expect(await record("nl-proto-1", ["__proto__"])).toBe(1);
    expect(Object.entries(await held(["__proto__"], "nl-proto-2"))).toEqual([["__proto__", "frequency"]]);
  });

  it("a preference chosen after the send counts that send; one cleared counts nothing", async () => {
    expect(await record("nl-3", ["fq-later"])).toBe(1);
    expect(await held(["fq-later"], "nl-4")).toEqual({});
    await consent("fq-later", { frequency: "monthly" });
    expect(await held(["fq-later"], "nl-4")).toEqual({ "fq-later": "frequency" });
    // chosen, then cleared (one batch: a reader's snapshot is written at most once a second)
    expect(await record("nl-3", ["fq-cleared"])).toBe(1);
    await consume([
      { id: "fc-1", type: "consent", user: "fq-cleared", ts: nowS() - 60, consent: { frequency: "monthly" } },
      { id: "fc-2", type: "consent", user: "fq-cleared", ts: nowS(), consent: { frequency: null } },
    ]);
    expect(await held(["fq-cleared"], "nl-4")).toEqual({});
  });

  it("a triggered send counts too: one preference spaces both", async () => {
    await consent("fq-triggered", { frequency: "weekly" });
    // the reader's cart-abandoned email, acknowledged an hour ago (as the shard's alarm marks a delivery)
    await runInDurableObject(readerStub(env, "fq-triggered"), (_: ReaderShard, state) => {
      state.storage.sql.exec(
        `INSERT INTO triggers (user, trigger, cart_ts, items, due_at, state, delivered_at, delivery, attempts, next_at)
         VALUES (?, 'cart', ?, '[]', ?, 'delivered', ?, 'd-1', 1, 0)`,
        "fq-triggered",
        nowS() - 7200,
        nowS() - 3600,
        nowS() - 3600,
      );
    });
    expect(await held(["fq-triggered"], "nl-5")).toEqual({ "fq-triggered": "frequency" });
  });

  it("the other reasons come first; an erased reader's send is not recorded; the right of access shows the sends", async () => {
    await consent("fq-unsub", { frequency: "weekly", unsubscribed: true });
    await consent("fq-erased", { frequency: "weekly" });
    expect((await send("/v1/users/fq-erased", { method: "DELETE", headers: ADMIN })).status).toBe(200);
    // an erased reader's send is not recorded, nor an unsubscribed one's (held back at the recording too)
    const recording = nowS();
    expect(await record("nl-6", ["fq-unsub", "fq-erased", "fq-access"])).toBe(1);
    const recorded = nowS();
    expect(await held(["fq-unsub", "fq-erased"], "nl-7")).toEqual({
      "fq-unsub": "unsubscribed",
      "fq-erased": "erased",
    });
    const access = (await (await send("/v1/users/fq-access", { headers: ADMIN })).json()) as {
      campaign_sends: { campaign: string; sentAt: number }[];
    };
    expect(access.campaign_sends.map((s) => s.campaign)).toEqual(["nl-6"]);
    // timed at the recording (between the clock's seconds before and after it, however long it took)
    expect(access.campaign_sends[0]?.sentAt).toBeGreaterThanOrEqual(recording);
    expect(access.campaign_sends[0]?.sentAt).toBeLessThanOrEqual(recorded);
    // erasure takes the sends with the rest
    expect((await send("/v1/users/fq-access", { method: "DELETE", headers: ADMIN })).status).toBe(200);
    const rows = await runInDurableObject(readerStub(env, "fq-access"), (_: ReaderShard, state) =>
      state.storage.sql.exec("SELECT 1 FROM campaign_sends WHERE user = ?", "fq-access").toArray(),
    );
    expect(rows).toEqual([]);
  });

  it("a send is kept 30 days however quiet the shard: the shard's alarm deletes it after, within a day", async () => {
    const user = "fq-kept";
    const before = nowS();
    expect(await record("kept-sale", [user])).toBe(1);
    const stub = readerStub(env, user);
    const sends = () =>
      runInDurableObject(stub, (_: ReaderShard, state) =>
        state.storage.sql.exec("SELECT campaign FROM campaign_sends WHERE user = ?", user).toArray(),
      );
    // the recording itself leaves an alarm, a day at most past the send's expiry
    const alarm = await runInDurableObject(stub, (_: ReaderShard, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm as number).toBeLessThanOrEqual((before + 31 * DAY + 5) * 1000);
    // a day short of 30 the alarm keeps it; past 30 it deletes it, with no other send or event on the shard
    await age(user, 29);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await sends()).toHaveLength(1);
    await age(user, 2);
    // the alarm the run left stands for the send's expiry
    expect(await runInDurableObject(stub, (_: ReaderShard, state) => state.storage.getAlarm())).not.toBeNull();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await sends()).toHaveLength(0);
  });

  it("shards that cannot be reached: 503 STATE_UNAVAILABLE with Retry-After, for the check and the recording", async () => {
    await consent("fq-down", { frequency: "weekly" });
    const check = await post(
      "/v1/admin/suppressions",
      { users: ["fq-down"], campaign: "nl-8" },
      { READERS: unreachable },
    );
    expect(check.status).toBe(503);
    expect(check.headers.get("Retry-After")).toBe("1");
    expect(((await check.json()) as { error: { code: string } }).error.code).toBe("STATE_UNAVAILABLE");
    const rec = await post("/v1/admin/sends", { campaign: "nl-8", users: ["fq-down"] }, { READERS: unreachable });
    expect(rec.status).toBe(503);
    expect(((await rec.json()) as { error: { code: string } }).error.code).toBe("STATE_UNAVAILABLE");
    // a reader whose snapshot names no preference needs no shard: the check answers
    await consent("fq-down-none", { topics: ["mugs"] });
    const none = await post(
      "/v1/admin/suppressions",
      { users: ["fq-down-none"], campaign: "nl-8" },
      { READERS: unreachable },
    );
    expect(none.status).toBe(200);
    // one with no snapshot does: their shard may keep an unsubscribe of theirs alone (suppression-only.ts)
    const unknown = await post(
      "/v1/admin/suppressions",
      { users: ["fq-down-never-seen"], campaign: "nl-8" },
      { READERS: unreachable },
    );
    expect(unknown.status).toBe(503);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("STATE_UNAVAILABLE");
  });

  it("a shard failing in our own code: 500 INTERNAL for the check and the recording, never a 503 to retry", async () => {
    await consent("fq-bug", { frequency: "weekly" });
    const restore = await buggySends("fq-bug");
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      for (const [path, body] of [
        ["/v1/admin/suppressions", { users: ["fq-bug"], campaign: "nl-9" }],
        ["/v1/admin/sends", { campaign: "nl-9", users: ["fq-bug"] }],
      ] as const) {
        const res = await post(path, body);
        expect(res.status, path).toBe(500);
        expect(res.headers.get("Retry-After"), path).toBeNull();
        expect(((await res.json()) as { error: { code: string } }).error.code, path).toBe("INTERNAL");
      }
      // the one handler logged each as unhandled, by the route's pattern
      const unhandled = error.mock.calls
        .map((c) => JSON.parse(String(c[0])) as { event: string; route?: string })
        .filter((l) => l.event === "unhandled");
      expect(unhandled.map((l) => l.route)).toEqual(["/v1/admin/suppressions", "/v1/admin/sends"]);
      // a bug in one shard is answered as a bug while another shard is merely unreachable
      const mixed = {
        idFromName: (name: string) => env.READERS?.idFromName(name),
        get: (id: DurableObjectId) =>
          id.equals(readerStub(env, "fq-bug").id) ? env.READERS?.get(id) : { recordSends: lost },
      } as unknown as Bindings["READERS"];
      const other = otherShardThan("fq-bug");
      const both = await post("/v1/admin/sends", { campaign: "nl-9", users: [other, "fq-bug"] }, { READERS: mixed });
      expect(both.status).toBe(500);
    } finally {
      error.mockRestore();
      await restore();
    }
    // mended, the same requests answer
    expect(await record("nl-9", ["fq-bug"])).toBe(1);
    expect(await held(["fq-bug"], "nl-10")).toEqual({ "fq-bug": "frequency" });
  });

  it("refuses a send without a campaign, a bad campaign id, or more than 500 readers", async () => {
    for (const body of [
      { users: ["a"] },
      { campaign: "bad id!", users: ["a"] },
      { campaign: "nl", users: [] },
      { campaign: "nl", users: Array.from({ length: 501 }, (_, i) => `r${i}`) },
      { campaign: "nl", users: ["ann@example.com"] },
    ]) {
      const res = await post("/v1/admin/sends", body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
    }
  });
});
