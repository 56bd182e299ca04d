/**
 * Item rules that hold over repeated opens, in workerd: what an email showed is recorded as an impression (the
 * real route enqueues it, the real consumer and shard keep it on the profile), and the frequency cap withholds
 * it from the reader's next emails; diversity holds in every answer; bought-within-N-days excludes.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { Catalog } from "../../core/catalog";
import { kvKeys } from "../../core/kv-keys";
import type { Profile } from "../../core/profile";
import { mintToken, sendKey, verifyToken } from "../../core/token";
import { resetBlockMemo } from "../../worker/decisions/block-memo";
import { resetCampaignCache } from "../../worker/decisions/campaign-store";
import worker from "../../worker/index";
import { TEST_ADMIN_KEY, TEST_TOKEN_SECRET } from "./fixture";
import { call, clearKv, consume, fixture, recordingQueue, SENDER, seedModel } from "./support/harness";

const reader = () => fixture().profiles.find((p) => p.factors !== null) as Profile;
const categoryOf = (id: string) =>
  (JSON.parse(fixture().catalogJson) as Catalog).items.find((i) => i.id === id)?.category;

async function putCampaign(id: string, body: unknown): Promise<void> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`https://opentime.test/v1/admin/campaigns/${id}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
    env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
}

/** The amp-list of `campaign` for the reader; the events it recorded, delivered to the shards as the queue would. */
async function open(user: string, campaign: string, token?: string) {
  const rec = recordingQueue();
  const t = token ?? (await mintToken(TEST_TOKEN_SECRET, { user, campaign, ttlSeconds: 3600 }));
  const res = await call(`/v1/amp/recs?t=${t}&n=4`, { "AMP-Email-Sender": SENDER }, { ...env, EVENTS: rec.queue });
  expect(res.status).toBe(200);
  const items = ((await res.json()) as { items: { id: string }[] }).items.map((i) => i.id);
  if (rec.sent.length > 0) await consume(rec.sent);
  return { items, rules: res.headers.get("X-Opentime-Rules") ?? "", sent: rec.sent };
}

/**
 * How long a poll below waits before it calls a snapshot lost: generous, as a loaded machine takes seconds for one
 * request (how soon the shard publishes is not what these tests are about).
 */
const LOST_AFTER_MS = 15_000;

/** Waits until the reader's snapshot in KV holds `n` impressions (the shard publishes it after its commit). */
async function impressionsReach(user: string, n: number): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < LOST_AFTER_MS) {
    const p = (await env.OPENTIME_KV.get(kvKeys.profile(user), "json")) as Profile | null;
    if ((p?.impressions?.length ?? 0) >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the snapshot did not reach ${n} impressions`);
}

beforeEach(async () => {
  await clearKv();
  await seedModel();
  resetCampaignCache();
  resetBlockMemo();
});

/** The send a token names (campaign, expiry and nonce), as opens are keyed. */
async function sendOfToken(token: string): Promise<string> {
  const v = await verifyToken([TEST_TOKEN_SECRET], token);
  if (!v.ok) throw new Error(`the test's token does not verify: ${v.reason}`);
  return sendKey(v.claims);
}

describe("item rules over repeated opens", () => {
  it("the frequency cap withholds what the reader's earlier emails showed, and says so", async () => {
    const user = reader().userId;
    const rules = { frequencyCap: { max: 1, days: 30 } };
    for (const c of ["fc-1", "fc-2", "fc-3"]) {
      await putCampaign(c, { v: 2, default: { id: "picks", type: "recommendations", items: rules } });
    }
    const firstToken = await mintToken(TEST_TOKEN_SECRET, { user, campaign: "fc-1", ttlSeconds: 3600 });
    const first = await open(user, "fc-1", firstToken);
    expect(first.items).toHaveLength(4);
    expect(first.sent).toEqual([
      expect.objectContaining({
        id: `open:${await sendOfToken(firstToken)}`,
        type: "email_open",
        user,
        items: first.items,
      }),
    ]);
    await impressionsReach(user, 4);
    const second = await open(user, "fc-2");
    expect(second.items).toHaveLength(4);
    expect(second.items.filter((id) => first.items.includes(id))).toEqual([]);
    expect(second.rules).toMatch(/seen=4/);
    // the same email opened again shows what it showed (its own impressions never count against it), and is
    // one impression, not two
    const again = await open(user, "fc-1", firstToken);
    expect(again.items).toEqual(first.items);
    expect(again.sent.map((e) => e.id)).toEqual([first.sent[0]?.id]);
    await impressionsReach(user, 8);
    const third = await open(user, "fc-3");
    expect(third.items.filter((id) => [...first.items, ...second.items].includes(id))).toEqual([]);
    // the shard keeps them all (its snapshot follows within a second or two, coalesced)
    await impressionsReach(user, 12);
  });

  it("an image block's open carries what its slots show, and the cap holds for the next email", async () => {
    // another reader than above: a shard keeps its readers' state across tests
    const user = (fixture().profiles.filter((p) => p.factors !== null)[1] as Profile).userId;
    const rules = { frequencyCap: { max: 1, days: 30 } };
    for (const c of ["fci-1", "fci-2"]) {
      await putCampaign(c, { v: 2, default: { id: "picks", type: "recommendations", items: rules } });
    }
    const rec = recordingQueue();
    const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign: "fci-1", ttlSeconds: 3600 });
    const shown: string[] = [];
    for (const slot of ["row-0", "row-1", "row-2"]) {
      const res = await call(`/v1/img/${t}/${slot}.png`, {}, { ...env, EVENTS: rec.queue });
      expect(res.status).toBe(200);
      shown.push(res.headers.get("X-Opentime-Item") as string);
    }
    expect(rec.sent).toEqual([
      expect.objectContaining({ id: `open:${await sendOfToken(t)}`, type: "email_open", items: shown }),
    ]);
    await consume(rec.sent);
    await impressionsReach(user, 3);
    const next = await open(user, "fci-2");
    expect(next.items.filter((id) => shown.includes(id))).toEqual([]);
    expect(next.rules).toMatch(/seen=3/);
  });

  it("diversity holds in every answer of repeated opens, and bought-within-N-days excludes", async () => {
    const p = reader();
    await putCampaign("div", {
      v: 2,
      policy: "live",
      default: { id: "picks", type: "recommendations", items: { maxPerCategory: 1 } },
    });
    for (let i = 0; i < 3; i++) {
      const { items } = await open(p.userId, "div");
      const categories = items.map(categoryOf);
      expect(new Set(categories).size).toBe(categories.length);
    }
    // bought 40 days ago: past EXCLUDE_PURCHASED_DAYS (30), so only a block's own rule withholds it
    const top = (await open(p.userId, "div")).items[0] as string;
    const ts = Math.floor(Date.now() / 1000) - 40 * 86_400;
    await consume([{ id: "buy-top", type: "purchase", user: p.userId, item: top, ts }]);
    const start = Date.now();
    for (;;) {
      const snap = (await env.OPENTIME_KV.get(kvKeys.profile(p.userId), "json")) as Profile | null;
      if (snap?.purchases.some((x) => x.item === top && x.lastTs === ts)) break;
      if (Date.now() - start > LOST_AFTER_MS) throw new Error("the purchase did not reach the snapshot");
      await new Promise((r) => setTimeout(r, 50));
    }
    await putCampaign("fresh", {
      v: 2,
      default: { id: "picks", type: "recommendations", items: { exclude: { boughtWithinDays: 60 } } },
    });
    const fresh = await open(p.userId, "fresh");
    expect(fresh.items).toHaveLength(4);
    expect(fresh.items).not.toContain(top);
    expect(fresh.rules).toMatch(/^excluded=[1-9]/);
  });
});
