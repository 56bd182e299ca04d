/**
 * Who must not be mailed, in workerd: `POST /v1/admin/suppressions` (what `npm run email` asks before it builds)
 * answers the erased, unsubscribed, paused and unreadable readers of a batch from their snapshots and tombstones,
 * and from their shards for readers with no snapshot (an unsubscribe kept alone, as `sc-unsub`'s: unsubscribe.test.ts)
 * (its `frequency` answer: campaign-frequency.test.ts); `GET /v1/admin/suppressions` gives the shop's list every
 * change of `unsubscribed`, `pausedUntil` or `frequency`, whatever
 * path took it (the email's form, its one-click link, the consent API), and with its cursor exactly the changes
 * applied since, however they are paged.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { base64UrlToBytes, bytesToBase64Url } from "../../core/base64";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile } from "../../core/profile";
import { mintUnsubscribeToken } from "../../core/unsubscribe-link";
import { createListChanges } from "../../worker/state/list-changes-table";
import { readerStub } from "../../worker/state/shard-routing";
import { TEST_TOKEN_SECRET } from "./fixture";
import { faultyKv } from "./support/faulty-bindings";
import { ADMIN_HEADERS as ADMIN, consume, recordingQueue, SENDER, send, token } from "./support/harness";

type Bindings = typeof env;
const FORM = { "Content-Type": "application/x-www-form-urlencoded" };
const nowS = () => Math.floor(Date.now() / 1000);

function request(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string; bindings?: Partial<Bindings> } = {},
): Promise<Response> {
  return send(path, { method, headers: init.headers, body: init.body }, { ...env, ...init.bindings } as Bindings);
}

/** Sends a request whose route queues events, then has the readers' shards apply what it queued. */
async function applied(method: string, path: string, headers: Record<string, string>, body: string) {
  const { queue, sent } = recordingQueue();
  const res = await request(method, path, { headers, body, bindings: { EVENTS: queue } });
  expect(res.status, `${method} ${path}: ${await res.clone().text()}`).toBeLessThan(300);
  expect(sent.length).toBeGreaterThan(0);
  await consume(sent as QueuedEvent[]);
}

const consentApi = (user: string, change: Record<string, unknown>) =>
  applied("PUT", `/v1/users/${user}/consent`, ADMIN, JSON.stringify(change));
/** A consent change timed at `ts` (consent is decided by time: a later change wins whatever the order). */
const consentAt = (user: string, change: QueuedEvent["consent"], ts: number) =>
  consume([{ id: `consent:${user}:${ts}`, type: "consent", user, ts, consent: change }]);
const ampForm = async (user: string, form: string) =>
  applied("POST", `/v1/amp/preferences?t=${await token(user)}`, { ...FORM, "AMP-Email-Sender": SENDER }, form);
const oneClick = async (user: string) =>
  applied(
    "POST",
    `/v1/unsubscribe?t=${await mintUnsubscribeToken(TEST_TOKEN_SECRET, { user, campaign: "spring", ttlSeconds: 0 })}`,
    FORM,
    "List-Unsubscribe=One-Click",
  );

async function check(users: string[], bindings: Partial<Bindings> = {}) {
  return request("POST", "/v1/admin/suppressions", { headers: ADMIN, body: JSON.stringify({ users }), bindings });
}

interface ChangesAnswer {
  changes: {
    user: string;
    unsubscribed: boolean;
    pausedUntil: string | null;
    frequency?: string | null;
    changedAt: string;
  }[];
  cursor: string;
  more: boolean;
}

async function changes(query: string): Promise<ChangesAnswer> {
  const res = await request("GET", `/v1/admin/suppressions${query}`, { headers: ADMIN });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as ChangesAnswer;
}

/** Every change from `query` on, page after page (`limit` each), and the cursor to go on from. */
async function readAll(first: string, limit = 500): Promise<{ seen: ChangesAnswer["changes"]; cursor: string }> {
  const seen: ChangesAnswer["changes"] = [];
  let page = await changes(`${first}${first.includes("?") ? "&" : "?"}limit=${limit}`);
  seen.push(...page.changes);
  while (page.more) {
    page = await changes(`?cursor=${page.cursor}&limit=${limit}`);
    seen.push(...page.changes);
  }
  return { seen, cursor: page.cursor };
}

const mine = (prefix: string, list: ChangesAnswer["changes"]) => list.filter((c) => c.user.startsWith(prefix));

describe("POST /v1/admin/suppressions: whom not to mail", () => {
  it("answers the erased, unsubscribed, paused and unreadable readers, each with why; nobody else", async () => {
    await consentApi("sc-unsub", { unsubscribed: true });
    await ampForm("sc-paused", "form=2&pause_days=10");
    await consentApi("sc-pause-over", { pausedUntil: nowS() - 60 });
    await consentApi("sc-optout", { tracking: false, personalization: false });
    await consentApi("sc-erased", { topics: ["mugs"] });
    expect((await request("DELETE", "/v1/users/sc-erased", { headers: ADMIN })).status).toBe(200);
    await env.OPENTIME_KV.put(kvKeys.profile("sc-unreadable"), '{"v":3,"consent":{"unsubscribed":"nope"}}');
    // unsubscribed a minute ago, subscribed again now (one batch: a reader's snapshot is written once a second)
    await consume([
      { id: "c1", type: "consent", user: "sc-resubscribed", ts: nowS() - 60, consent: { unsubscribed: true } },
      { id: "c2", type: "consent", user: "sc-resubscribed", ts: nowS(), consent: { unsubscribed: false } },
    ]);
    const users = [
      "sc-unsub",
      "sc-paused",
      "sc-pause-over",
      "sc-optout",
      "sc-erased",
      "sc-unreadable",
      "sc-resubscribed",
      "sc-never-seen",
    ];
    const res = await check([...users, "sc-unsub"]);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checked: number; suppressed: { user: string; reason: string }[] };
    expect(body.checked).toBe(users.length);
    expect(Object.fromEntries(body.suppressed.map((s) => [s.user, s.reason]))).toEqual({
      "sc-unsub": "unsubscribed",
      "sc-paused": "paused",
      "sc-erased": "erased",
      "sc-unreadable": "unreadable",
    });
  });

  it("KV failing: 503 KV_UNAVAILABLE with Retry-After, never an answer that would let them be mailed", async () => {
    const res = await check(["sc-kv"], {
      OPENTIME_KV: faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "rate-limited" }]).kv,
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("1");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("KV_UNAVAILABLE");
    // an error that is not KV's passing failure is a bug of ours: 500, not a 503 to retry for ever
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const bug = await check(["sc-kv"], {
        OPENTIME_KV: faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw" }]).kv,
      });
      expect(bug.status).toBe(500);
      expect(((await bug.json()) as { error: { code: string } }).error.code).toBe("INTERNAL");
    } finally {
      error.mockRestore();
    }
  });

  it("refuses what is not a batch of pseudonymous ids: 400, and over 500 readers", async () => {
    for (const users of [[], ["ann@example.com"], Array.from({ length: 501 }, (_, i) => `r${i}`)]) {
      const res = await check(users);
      expect(res.status, JSON.stringify(users).slice(0, 40)).toBe(400);
    }
  });
});

describe("GET /v1/admin/suppressions: the shop's list hears of every unsubscribe", () => {
  it("whatever path took it (form, one-click, consent API), and with the cursor exactly what changed since", async () => {
    const start = await readAll("");
    await ampForm("lc-amp", "form=2&unsubscribe=on");
    await oneClick("lc-click");
    await consentApi("lc-api", { unsubscribed: true });
    // a change that is no unsubscribe or pause is none of the list's business
    await consentApi("lc-other", { tracking: false });
    const next = await readAll(`?cursor=${start.cursor}`);
    expect(mine("lc-", next.seen).map((c) => [c.user, c.unsubscribed, c.pausedUntil])).toEqual(
      expect.arrayContaining([
        ["lc-amp", true, null],
        ["lc-click", true, null],
        ["lc-api", true, null],
      ]),
    );
    expect(mine("lc-", next.seen)).toHaveLength(3);
    for (const c of next.seen) expect(Date.parse(c.changedAt)).toBeGreaterThan(0);
    // nothing new: nothing; a second click sets what is set: nothing either
    await oneClick("lc-click");
    const none = await changes(`?cursor=${next.cursor}`);
    expect(none.changes).toEqual([]);
    expect(none.more).toBe(false);
    // a resubscribe (the consent API) and a pause come as the reader's state now
    // a later resubscribe (the next second's: two changes within a second end with the more private one)
    await consentAt("lc-api", { unsubscribed: false }, nowS() + 2);
    const until = nowS() + 7 * 86_400;
    await consentApi("lc-paused", { pausedUntil: until });
    const later = await changes(`?cursor=${none.cursor}`);
    expect(later.changes.map((c) => [c.user, c.unsubscribed, c.pausedUntil])).toEqual(
      expect.arrayContaining([
        ["lc-api", false, null],
        ["lc-paused", false, new Date(until * 1000).toISOString()],
      ]),
    );
    expect(later.changes).toHaveLength(2);
  });

  it("pages of any size lose and repeat nothing; since starts a read at a time", async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    for (const user of ["pg-1", "pg-2", "pg-3", "pg-4", "pg-5", "pg-6"]) await consentApi(user, { unsubscribed: true });
    const whole = mine("pg-", (await readAll(`?since=${before}`)).seen).map((c) => c.user);
    expect(whole.sort()).toEqual(["pg-1", "pg-2", "pg-3", "pg-4", "pg-5", "pg-6"]);
    for (const limit of [1, 2, 5]) {
      const paged = mine("pg-", (await readAll(`?since=${before}`, limit)).seen).map((c) => c.user);
      expect(paged.sort(), `limit ${limit}`).toEqual(whole);
    }
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(mine("pg-", (await readAll(`?since=${future}`)).seen)).toEqual([]);
  });

  it("an erased reader leaves the list's read (the shop that erased them knows)", async () => {
    await consentApi("lc-erased", { unsubscribed: true });
    expect(mine("lc-erased", (await readAll("")).seen)).toHaveLength(1);
    expect((await request("DELETE", "/v1/users/lc-erased", { headers: ADMIN })).status).toBe(200);
    expect(mine("lc-erased", (await readAll("")).seen)).toEqual([]);
  });

  it("a shard that held unsubscribed readers before the list existed lists them on its first read", async () => {
    // readers the shard holds a profile of (an unsubscribe alone would be a suppression: no profile)
    await consentApi("lc-before", { topics: ["tea"] });
    await consentApi("lc-before", { unsubscribed: true });
    await consentApi("lc-before-ok", { topics: ["tea"] });
    // the shard as an earlier version left it: readers, no list tables
    for (const user of ["lc-before", "lc-before-ok"])
      await runInDurableObject(readerStub(env, user), (_: unknown, state) => {
        state.storage.sql.exec("DROP TABLE IF EXISTS list_changes");
        state.storage.sql.exec("DROP TABLE IF EXISTS list_changes_seq");
        createListChanges(state.storage.sql, Date.now());
      });
    const listed = mine("lc-before", (await readAll("")).seen);
    expect(listed.map((c) => [c.user, c.unsubscribed])).toEqual([["lc-before", true]]);
  });

  it("a reader unsubscribed in KV's state from before the shards is listed when their shard first imports them", async () => {
    const profile = { ...emptyProfile("lc-kv-era", new Date().toISOString()) };
    profile.consent = { ...profile.consent, unsubscribed: true };
    await env.OPENTIME_KV.put(kvKeys.profile("lc-kv-era"), JSON.stringify(profile));
    const { cursor } = await readAll("");
    await consume([{ id: "v1", type: "view", user: "lc-kv-era", item: "p1", ts: nowS() }]);
    const listed = mine("lc-kv-era", (await readAll(`?cursor=${cursor}`)).seen);
    expect(listed.map((c) => [c.user, c.unsubscribed])).toEqual([["lc-kv-era", true]]);
  });

  it("a read started at a time ahead of the Worker's clock still hears of every change made after it", async () => {
    // a careless since (a clock ahead, a typo in the year) starts the read: it never hides what changes later
    const ahead = new Date(Date.now() + 3_600_000).toISOString();
    const { cursor } = await readAll(`?since=${ahead}`);
    await consentApi("lc-ahead", { unsubscribed: true });
    expect(mine("lc-ahead", (await readAll(`?cursor=${cursor}`)).seen).map((c) => c.user)).toEqual(["lc-ahead"]);
  });

  it("refuses a cursor ahead of a shard's changes (another deployment's, or a shard begun again): 400", async () => {
    const { cursor } = await readAll("");
    const fields = JSON.parse(new TextDecoder().decode(base64UrlToBytes(cursor))) as { q: number[] };
    const ahead = { ...fields, q: fields.q.map((n) => n + 1_000_000) };
    const res = await request(
      "GET",
      `/v1/admin/suppressions?cursor=${bytesToBase64Url(new TextEncoder().encode(JSON.stringify(ahead)))}`,
      { headers: ADMIN },
    );
    expect(res.status, await res.clone().text()).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/since/);
  });

  it("its answers are kept by no cache (reader ids, and the cursor that reads them)", async () => {
    const res = await request("GET", "/v1/admin/suppressions?limit=1", { headers: ADMIN });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("private, no-store");
  });

  it("a frequency chosen in the form or through the consent API comes too, and its clearing, after a kept cursor", async () => {
    const { cursor } = await readAll("");
    await ampForm("lf-amp", "form=2&frequency=monthly");
    await consentApi("lf-api", { frequency: "weekly" });
    // the same again sets what is set: nothing listed
    await consentAt("lf-api", { frequency: "weekly" }, nowS() + 2);
    const next = await readAll(`?cursor=${cursor}`);
    expect(mine("lf-", next.seen).map((c) => [c.user, c.unsubscribed, c.pausedUntil, c.frequency])).toEqual(
      expect.arrayContaining([
        ["lf-amp", false, null, "monthly"],
        ["lf-api", false, null, "weekly"],
      ]),
    );
    expect(mine("lf-", next.seen)).toHaveLength(2);
    // no preference any more: listed again, null
    await consentAt("lf-api", { frequency: null }, nowS() + 4);
    const cleared = await readAll(`?cursor=${next.cursor}`);
    expect(mine("lf-", cleared.seen).map((c) => [c.user, c.frequency])).toEqual([["lf-api", null]]);
    // an unsubscribe keeps the reader's frequency in the row
    await consentAt("lf-amp", { unsubscribed: true }, nowS() + 6);
    const unsub = await readAll(`?cursor=${cleared.cursor}`);
    expect(mine("lf-", unsub.seen).map((c) => [c.user, c.unsubscribed, c.frequency])).toEqual([
      ["lf-amp", true, "monthly"],
    ]);
  });

  it("a pause written back as the list answers it (ISO) is taken; one in milliseconds is refused, not kept for ever", async () => {
    const { cursor } = await readAll("");
    // an ESP sync writes back what it read: the list's ISO time, or unix seconds
    await consentApi("lp-iso", { pausedUntil: "2099-01-01T01:00:00+01:00" });
    await consentApi("lp-unix", { pausedUntil: 4070908800 });
    const next = await readAll(`?cursor=${cursor}`);
    expect(mine("lp-", next.seen).map((c) => [c.user, c.pausedUntil])).toEqual(
      expect.arrayContaining([
        ["lp-iso", "2099-01-01T00:00:00.000Z"],
        ["lp-unix", "2099-01-01T00:00:00.000Z"],
      ]),
    );
    // an ISO time outside the range seconds are held to: before 1970, or past the year 5138
    const outside = ["1969-12-31T23:59:59Z", "9999-01-01T00:00:00Z"];
    for (const pausedUntil of [4070908800000, "2099-01-01", "next week", 1.5, ...outside]) {
      const res = await request("PUT", "/v1/users/lp-bad/consent", {
        headers: ADMIN,
        body: JSON.stringify({ pausedUntil }),
      });
      expect(res.status, String(pausedUntil)).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
        "pausedUntil: unix seconds, or an ISO 8601 time with its zone (2027-01-01T00:00:00Z, as GET /v1/admin/suppressions answers it); null ends a pause",
      );
    }
  });

  it("a shard whose list predates frequency lists the readers who chose one, to a cursor kept from before", async () => {
    await consentApi("lf-before", { frequency: "monthly" });
    await consentApi("lf-before-none", { topics: ["tea"] });
    const { cursor } = await readAll("");
    // the list as the earlier version left it: no frequency column
    for (const user of ["lf-before", "lf-before-none"])
      await runInDurableObject(readerStub(env, user), (_: unknown, state) => {
        const sql = state.storage.sql;
        const has = sql.exec("SELECT 1 FROM pragma_table_info('list_changes') WHERE name = 'frequency'").toArray();
        if (has.length > 0) sql.exec("ALTER TABLE list_changes DROP COLUMN frequency");
        createListChanges(sql, Date.now());
      });
    const after = await readAll(`?cursor=${cursor}`);
    const listed = mine("lf-before", after.seen);
    expect(listed.map((c) => [c.user, c.frequency])).toEqual([["lf-before", "monthly"]]);
    // the next change takes a number after theirs: read from the cursor, with the frequency kept
    await consentApi("lf-before", { unsubscribed: true });
    const next = mine("lf-before", (await readAll(`?cursor=${after.cursor}`)).seen);
    expect(next.map((c) => [c.user, c.unsubscribed, c.frequency])).toEqual([["lf-before", true, "monthly"]]);
  });

  it("refuses a cursor it never answered, and since with a cursor", async () => {
    const { cursor } = await changes("");
    for (const q of ["?cursor=nope", `?cursor=${cursor}&since=2026-01-01T00:00:00Z`, "?since=yesterday", "?limit=0"]) {
      const res = await request("GET", `/v1/admin/suppressions${q}`, { headers: ADMIN });
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
    }
    // a since that is no ISO time (unix seconds, a date alone) says what one is
    for (const since of ["1796432000", "2026-12-05", "yesterday"]) {
      const res = await request("GET", `/v1/admin/suppressions?since=${since}`, { headers: ADMIN });
      const { error } = (await res.json()) as { error: { message: string } };
      expect(error.message, since).toBe(
        "since: an ISO 8601 time with seconds and its zone, 2026-12-05T00:00:00Z (not unix s)",
      );
    }
  });

  it("the right of access shows the reader's list change", async () => {
    await consentApi("lc-access", { unsubscribed: true });
    const res = await request("GET", "/v1/users/lc-access", { headers: ADMIN });
    const body = (await res.json()) as { list_change: { unsubscribed: boolean; seq: number } | null };
    expect(body.list_change).toMatchObject({ unsubscribed: true });
    expect(body.list_change?.seq).toBeGreaterThan(0);
  });
});

describe("consent an earlier version stored that today's schema refuses", () => {
  const nowS = () => Math.floor(Date.now() / 1000);
  const reasonOf = async (user: string): Promise<string | null> => {
    const res = await send("/v1/admin/suppressions", {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ users: [user] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { suppressed: { user: string; reason: string }[] };
    return body.suppressed.find((s) => s.user === user)?.reason ?? null;
  };

  it("an unsubscribe beside a topic taken unchecked stays one when the shard imports or repairs the profile", async () => {
    // a KV-era profile (topics were not bounded then): left out while unreadable, and still once imported
    const imported = "sc-salvage-kv";
    const p = emptyProfile(imported, new Date().toISOString());
    const stored = { ...p, consent: { ...p.consent, unsubscribed: true, topics: ["", "lamps"] } };
    await env.OPENTIME_KV.put(kvKeys.profile(imported), JSON.stringify(stored));
    expect(await reasonOf(imported)).toBe("unreadable");
    await consume([{ id: "sv1", type: "view", user: imported, item: "p1", ts: nowS() }]);
    expect((await readerStub(env, imported).read(imported))?.consent).toMatchObject({
      unsubscribed: true,
      topics: ["lamps"],
    });
    expect(await reasonOf(imported)).toBe("unsubscribed");
    // the shard's own row made unreadable the same way, read afresh (as after an eviction): repaired, still out
    const repaired = "sc-salvage-row";
    await consume([
      { id: "sc1", type: "consent", user: repaired, ts: nowS() - 5, consent: { unsubscribed: true, tracking: true } },
    ]);
    await runInDurableObject(readerStub(env, repaired), (shard, state) => {
      const row = state.storage.sql.exec<{ profile: string }>("SELECT profile FROM readers WHERE user = ?", repaired);
      const profile = JSON.parse(row.one().profile);
      profile.consent.topics = ["x".repeat(65)];
      state.storage.sql.exec("UPDATE readers SET profile = ? WHERE user = ?", JSON.stringify(profile), repaired);
      (shard as unknown as { cache: Map<string, unknown> }).cache.delete(repaired);
    });
    await consume([{ id: "sv2", type: "view", user: repaired, item: "p1", ts: nowS() }]);
    expect((await readerStub(env, repaired).read(repaired))?.consent.unsubscribed).toBe(true);
  });

  it("a KV-era profile that is not JSON at all is imported with its consent unknown: personalization and tracking off", async () => {
    const user = "sc-not-json";
    await env.OPENTIME_KV.put(kvKeys.profile(user), "{not json");
    await consume([{ id: "sj1", type: "view", user, item: "p1", ts: nowS() }]);
    expect((await readerStub(env, user).read(user))?.consent).toMatchObject({
      personalization: false,
      tracking: false,
      unsubscribed: false,
    });
  });

  it("a pause queued unbounded ('for ever' as the largest integer) is kept as one that never ends, and the feed reads", async () => {
    const user = "sc-far-pause";
    await consume([
      { id: "sf1", type: "consent", user, ts: nowS(), consent: { pausedUntil: Number.MAX_SAFE_INTEGER } },
    ]);
    expect((await readerStub(env, user).read(user))?.consent.pausedUntil).toBe(1e11 - 1);
    const res = await send("/v1/admin/suppressions", { method: "GET", headers: ADMIN });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { changes: { user: string; pausedUntil: string | null }[] };
    expect(body.changes.find((c) => c.user === user)?.pausedUntil).toMatch(/^5138-/);
    // and one before 1970, as far below: a pause that has ended
    const below = "sc-negative-pause";
    await consume([
      { id: "sf2", type: "consent", user: below, ts: nowS(), consent: { pausedUntil: Number.MIN_SAFE_INTEGER } },
    ]);
    expect((await readerStub(env, below).read(below))?.consent.pausedUntil).toBe(0);
    const again = await send("/v1/admin/suppressions", { method: "GET", headers: ADMIN });
    expect(again.status).toBe(200);
  });
});
