/**
 * An erased reader who comes back, inside workerd with real KV and the reader's shard: a consent change that turns
 * personalization or tracking on, made after the erasure, ends the tombstone's hold on them (worker/state/
 * tombstone-table.ts): they are recorded and served again, from that change on. Events timed before it (late ones
 * from before the erasure, those made while it stood) stay dropped until the tombstone ends; anything else (an opt-in
 * timed before the erasure, a purchase) is no return. Erasing them again stands as the first erasure did.
 */
import { createExecutionContext, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { erasureKey } from "../../core/erasure-key";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { featuresOf, type Profile } from "../../core/profile";
import { mintToken } from "../../core/token";
import worker from "../../worker/index";
import { consentEvent } from "../../worker/profile/consent-update";
import { readerStub } from "../../worker/state/shard-routing";
import { migrateTombstones, returnOf, tombstoneOf } from "../../worker/state/tombstone-table";
import { TEST_ADMIN_KEY, TEST_TOKEN_SECRET } from "./fixture";
import { call, clearKv, consume, fixture, recordingQueue, SENDER, seedModel, send } from "./support/harness";

const nowS = () => Math.floor(Date.now() / 1000);
let seq = 0;
const purchase = (user: string, item: string, ts: number): QueuedEvent => ({
  id: `ret${seq++}`,
  type: "purchase",
  user,
  item,
  value: 10,
  ts,
});

async function erase(user: string): Promise<void> {
  const req = new Request(`https://opentime.test/v1/users/${user}`, {
    method: "DELETE",
    headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
  });
  expect((await worker.fetch(req, env, createExecutionContext())).status).toBe(200);
}

/** A reader the model knows, with features as `npm run seed` writes them (its own `index`: shards outlive KV). */
async function knownReader(index: number): Promise<string> {
  await seedModel();
  const f = fixture();
  const p = f.profiles.filter((x) => x.factors !== null)[index] as Profile;
  await env.OPENTIME_KV.put(kvKeys.features(p.userId, f.version), JSON.stringify(featuresOf(p, f.version)));
  return p.userId;
}

const items = async (user: string) => ((await readerStub(env, user).read(user))?.recentItems ?? []).map((r) => r.item);
/** the consent clock's seconds: a change made after the erasure is timed a second after it at least */
const aSecond = () => new Promise((r) => setTimeout(r, 1100));

/** The reader's snapshot once it shows `item` (the shard publishes a reader once a second at most; its alarm the rest). */
async function snapshotWith(user: string, item: string): Promise<Profile> {
  const started = Date.now();
  for (;;) {
    await runDurableObjectAlarm(readerStub(env, user));
    const text = await env.OPENTIME_KV.get(kvKeys.profile(user));
    const snapshot = text === null ? null : (JSON.parse(text) as Profile);
    if (snapshot?.recentItems.some((r) => r.item === item)) return snapshot;
    if (Date.now() - started > 10_000) throw new Error(`the reader's snapshot never showed ${item}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeEach(clearKv);

describe("an erased reader who comes back", () => {
  it("whose return lands between the erasure's shard part and its KV part gets their snapshot back from the return's sweep", async () => {
    const user = "race-erase-return";
    const nowS = () => Math.floor(Date.now() / 1000);
    const aSecond = () => new Promise((r) => setTimeout(r, 1100));
    await consume([{ id: "rr-p1", type: "purchase", user, item: "i1", value: 5, ts: nowS() - 60 }]);
    const kv = env.OPENTIME_KV;
    const shard = readerStub(env, user);
    // (called never after 15 s, not 50 turns: a loaded machine takes seconds for one alarm)
    const publishedAgain = async () => {
      const start = Date.now();
      while ((await kv.get(kvKeys.profile(user))) === null && Date.now() - start < 15_000) {
        await runDurableObjectAlarm(shard);
        await new Promise((r) => setTimeout(r, 100));
      }
      return (await kv.get(kvKeys.profile(user))) !== null;
    };
    // the route's first KV write comes once the shard's erase() has answered: the reader's return (a consent timed
    // after the erasure) is applied and published just then, before the route deletes the snapshot
    let hooked = false;
    const wrapped = new Proxy(kv, {
      get(target, prop) {
        if (prop === "put")
          return async (key: string, ...rest: unknown[]) => {
            if (!hooked && key.startsWith("erased:")) {
              hooked = true;
              await aSecond();
              await consume([consentEvent(user, { personalization: true, tracking: true })]);
              expect(await publishedAgain(), "the return's snapshot").toBe(true);
            }
            return (target.put as (...a: unknown[]) => Promise<void>)(key, ...rest);
          };
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const res = await worker.fetch(
      new Request(`https://opentime.test/v1/users/${user}`, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
      }),
      { ...env, OPENTIME_KV: wrapped },
      createExecutionContext(),
    );
    expect(res.status).toBe(200);
    expect(hooked).toBe(true);
    expect(await shard.erased(user)).toBe(false);
    // the route deleted the return's snapshot; the return's sweeps (2 and 15 minutes on: moved to now) publish it again
    expect(await kv.get(kvKeys.profile(user))).toBeNull();
    await runInDurableObject(shard, (_: unknown, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE decision_sweeps SET at = 0 WHERE user = ?", user);
    });
    expect(await publishedAgain(), "published again").toBe(true);
    expect(await kv.get(await erasureKey(user))).toBeNull();
  });

  it("is recorded and served again once they consent after the erasure; what is timed before never comes back", async () => {
    const user = await knownReader(10);
    const before = nowS() - 120;
    await consume([purchase(user, "p-before", before)]);
    expect(await items(user)).toContain("p-before");
    await erase(user);
    const stone = await erasureKey(user);
    expect(await env.OPENTIME_KV.get(stone)).not.toBeNull();
    // a late event from before the erasure, and a purchase after it without consent: dropped, as the tombstone says
    await consume([purchase(user, "p-late", before + 1), purchase(user, "p-unconsented", nowS())]);
    expect(await readerStub(env, user).read(user)).toBeNull();
    expect(await readerStub(env, user).erased(user)).toBe(true);

    await aSecond();
    await consume([consentEvent(user, { personalization: true, tracking: true })]);
    expect(await readerStub(env, user).erased(user)).toBe(false);
    const back = await readerStub(env, user).read(user);
    expect(back?.consent).toMatchObject({ personalization: true, tracking: true });
    // nothing of before: the profile starts from the return, not from the snapshot KV held before the erasure
    expect(back?.recentItems).toEqual([]);
    // the edge's tombstone is gone: opens serve and record them again
    expect(await env.OPENTIME_KV.get(stone)).toBeNull();

    // late events timed before the return stay dropped (also a replay of one applied before the erasure), and one
    // given up on by the queue is not parked either (it would be held, and shown by the right of access)
    expect(await readerStub(env, user).park([purchase(user, "p-parked", before + 3)])).toEqual(["erased"]);
    await consume([purchase(user, "p-late-2", before + 2), purchase(user, "p-unconsented-2", nowS() - 5)]);
    await consume([purchase(user, "p-after", nowS())]);
    expect(await items(user)).toEqual(["p-after"]);
    expect((await snapshotWith(user, "p-after")).recentItems.map((r) => r.item)).toEqual(["p-after"]);

    const rec = recordingQueue();
    const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign: "welcome-back", ttlSeconds: 3600 });
    const img = await call(`/v1/img/${t}/row-0.png`, {}, { ...env, EVENTS: rec.queue });
    expect(img.status).toBe(200);
    expect(img.headers.get("X-Opentime-Reason")).not.toBe("erased");
    expect(rec.sent.map((e) => e.type)).toContain("email_open");

    // erased again: the tombstone stands as it did the first time, a consent timed before it no return
    await erase(user);
    expect(await env.OPENTIME_KV.get(stone)).not.toBeNull();
    await consume([
      purchase(user, "p-after-second", nowS()),
      { ...consentEvent(user, { tracking: true }), ts: before },
    ]);
    expect(await readerStub(env, user).read(user)).toBeNull();
    expect(await readerStub(env, user).erased(user)).toBe(true);
  });

  it("a tombstone kept before returns were known takes the upgrade's time as its erasure's: no earlier opt-in returns", async () => {
    await runInDurableObject(readerStub(env, "ret-migrate"), (_: unknown, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE tombstones");
      sql.exec("CREATE TABLE tombstones (hash TEXT PRIMARY KEY, until INTEGER NOT NULL)");
      sql.exec("INSERT INTO tombstones (hash, until) VALUES ('h', ?)", Date.now() + 86_400_000);
      migrateTombstones(sql, 1_000_000);
      migrateTombstones(sql, 2_000_000); // a second start changes nothing
      const stone = tombstoneOf(sql, "h", Date.now());
      expect(stone).toMatchObject({ erasedAt: 1_000_000, returnedAt: null });
      expect(returnOf([{ id: "c", type: "consent", user: "u", ts: 999, consent: { tracking: true } }], 1_000_000)).toBe(
        null,
      );
      expect(
        returnOf([{ id: "c", type: "consent", user: "u", ts: 1001, consent: { tracking: true } }], 1_000_000),
      ).toBe(1_001_000);
    });
  });

  it("does not come back by an opt-in timed before the erasure (a late consent change), nor by any other event", async () => {
    const user = await knownReader(11);
    await erase(user);
    await consume([
      { ...consentEvent(user, { personalization: true, tracking: true }), ts: nowS() - 60 },
      purchase(user, "p-new", nowS() + 5),
      { ...consentEvent(user, { personalization: false }), ts: nowS() + 5 },
      { id: `open:x:${seq++}`, type: "email_open", user, campaign: "old", ts: nowS() + 5 },
    ]);
    expect(await readerStub(env, user).erased(user)).toBe(true);
    expect(await readerStub(env, user).read(user)).toBeNull();
    expect(await env.OPENTIME_KV.get(await erasureKey(user))).not.toBeNull();
  });

  it("does not come back by an email's preferences form, which whoever holds the email (a forward) can submit", async () => {
    const user = await knownReader(12);
    // an email sent before the erasure
    const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign: "before", ttlSeconds: 30 * 86_400 });
    await erase(user);
    await aSecond();
    const rec = recordingQueue();
    const form = (body: string) =>
      send(
        `/v1/amp/preferences?t=${t}`,
        {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded", "AMP-Email-Sender": SENDER },
          body,
        },
        { ...env, EVENTS: rec.queue },
      );
    const turnOn = await form("form=2&personalization=on&tracking=on");
    expect(turnOn.status).toBe(200);
    expect(((await turnOn.json()) as { message: string }).message).toMatch(/only unsubscribing can be saved/);
    // nor a pause or a frequency, which the shard would drop while the tombstone stands: none is said to be saved
    const pause = await form("form=2&pause_days=7&frequency=weekly");
    expect(((await pause.json()) as { message: string }).message).toMatch(/^Your data was deleted/);
    expect(rec.sent).toEqual([]);
    // with an unsubscribe beside them: that alone is sent (kept whenever made)
    const both = await form("form=2&tracking=on&pause_days=7&unsubscribe=on");
    expect(((await both.json()) as { message: string }).message).toMatch(
      /^You are unsubscribed\. Your data was deleted/,
    );
    expect(rec.sent.map((e) => e.consent)).toEqual([{ unsubscribed: true }]);
    const alone = await form("form=2&unsubscribe=on");
    expect(((await alone.json()) as { message: string }).message).toBe("You are unsubscribed.");
    // the shard takes no change the form made as a return either (the tombstone unreadable at the form, say)
    await consume([
      { ...consentEvent(user, { personalization: true, tracking: true }), id: `preferences:x:${nowS()}` },
    ]);
    expect(await readerStub(env, user).erased(user)).toBe(true);
    expect(await env.OPENTIME_KV.get(await erasureKey(user))).not.toBeNull();
    // the consent API (the shop, when they sign in again and agree) still brings them back
    await consume([consentEvent(user, { tracking: true })]);
    expect(await readerStub(env, user).erased(user)).toBe(false);
  });
});
