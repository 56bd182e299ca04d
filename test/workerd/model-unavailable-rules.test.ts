/**
 * What the reader bought recently is withheld while the model cannot serve (a cold isolate's opens, while it loads),
 * as with a model: a pinned item and a product block of an item they bought an hour ago are not shown, and a
 * campaign's rules withhold by their history (bought within N days, frequency cap) as they do with a model, and its
 * conditions know the reader's own facts (engagement, purchases, topics) (worker/recs/recommend.ts, the model-failure
 * branch).
 */
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { CampaignSchema } from "../../core/campaign";
import { kvKeys } from "../../core/kv-keys";
import type { Profile } from "../../core/profile";
import { verifyToken } from "../../core/token";
import { serveBlock } from "../../worker/campaigns/serve-block";
import { resetLiveCatalogCache } from "../../worker/catalog/live-catalog";
import { resetCampaignCache } from "../../worker/decisions/campaign-store";
import { getConfig } from "../../worker/env";
import { openLoads, recommend } from "../../worker/recs/recommend";
import { TEST_TOKEN_SECRET } from "./fixture";
import { clearKv, fixture, seedModel, token } from "./support/harness";

beforeEach(async () => {
  await clearKv();
  await seedModel();
  resetCampaignCache();
  resetLiveCatalogCache();
});

async function setup() {
  const f = fixture();
  const catalog = JSON.parse(f.catalogJson);
  const reader = f.profiles.find((p) => p.factors !== null) as Profile;
  const bought = catalog.items[catalog.popular[0]].id as string; // the most popular item
  const raw = (await env.OPENTIME_KV.get(kvKeys.profile(reader.userId), "json")) as Profile;
  const ts = Math.floor(Date.now() / 1000) - 3600; // bought an hour ago
  await env.OPENTIME_KV.put(
    kvKeys.profile(reader.userId),
    JSON.stringify({
      ...raw,
      purchases: [{ item: bought, invoices: 1, lastTs: ts }, ...raw.purchases.filter((p) => p.item !== bought)],
    }),
  );
  const t = await token(reader.userId);
  const verified = await verifyToken([TEST_TOKEN_SECRET], t);
  const config = getConfig(env as never);
  const now = Date.now();
  const loads = (failing: boolean) => {
    const l = openLoads(env.OPENTIME_KV, config, now, () => undefined);
    if (failing) l.model = Promise.resolve({ ok: false as const, reason: "model-loading" as const, catalog });
    return l;
  };
  return { bought, t, verified, config, now, loads };
}

describe("the reader's recent purchase while the model cannot serve", () => {
  it("a pinned item they bought an hour ago", async () => {
    const { bought, t, verified, config, now, loads } = await setup();
    const rules = { pinned: [bought] };
    const ask = (failing: boolean) =>
      recommend({ kv: env.OPENTIME_KV, config, token: t, verified, n: 4, rules, now, loads: loads(failing) });
    const ok = await ask(false);
    expect(ok.items.map((i) => i.id)).not.toContain(bought);
    const failed = await ask(true);
    expect(failed.reason).toBe("model-loading");
    expect(failed.items.map((i) => i.id)).not.toContain(bought);
  });

  it("a product block of the item they bought an hour ago", async () => {
    const { bought, t, verified, config, now, loads } = await setup();
    const campaign = CampaignSchema.parse({
      v: 2,
      blocks: [{ id: "deal", type: "product", item: bought, when: {} }],
      default: { id: "picks", type: "recommendations" },
    });
    const input = {
      kv: env.OPENTIME_KV,
      config,
      token: t,
      verified,
      campaign,
      n: 4,
      open: {},
      now,
      waitUntil: () => undefined,
    };
    const ok = await serveBlock({ ...input, loads: loads(false) });
    expect(ok.selection.block.id).toBe("picks");
    const failed = await serveBlock({ ...input, loads: loads(true) });
    expect(failed.rec.reason).toBe("model-loading");
    expect(failed.selection.block.id).toBe("picks");
  });
});

describe("the campaign's rules on the reader's own history while the model cannot serve", () => {
  it("withholds what they bought within boughtWithinDays and what the frequency cap holds back, as with a model", async () => {
    const f = fixture();
    const catalog = JSON.parse(f.catalogJson);
    const reader = f.profiles.find((p) => p.factors !== null) as Profile;
    const [bought, seen] = [catalog.items[catalog.popular[0]].id, catalog.items[catalog.popular[1]].id] as string[];
    const nowS = Math.floor(Date.now() / 1000);
    const raw = (await env.OPENTIME_KV.get(kvKeys.profile(reader.userId), "json")) as Profile;
    await env.OPENTIME_KV.put(
      kvKeys.profile(reader.userId),
      JSON.stringify({
        ...raw,
        // bought 60 days ago: past EXCLUDE_PURCHASED_DAYS (30), within the rule's 90
        purchases: [{ item: bought, invoices: 1, lastTs: nowS - 60 * 86400 }, ...raw.purchases],
        // shown by two other emails this week: at the cap
        impressions: [
          { item: seen, ts: nowS - 3 * 86400, send: "other:1" },
          { item: seen, ts: nowS - 2 * 86400, send: "other:2" },
        ],
      }),
    );
    const t = await token(reader.userId);
    const verified = await verifyToken([TEST_TOKEN_SECRET], t);
    const config = getConfig(env as never);
    const now = Date.now();
    const rules = { exclude: { boughtWithinDays: 90 }, frequencyCap: { max: 2, days: 14 } };
    const loads = openLoads(env.OPENTIME_KV, config, now, () => undefined);
    loads.model = Promise.resolve({ ok: false as const, reason: "model-loading" as const, catalog });
    const failed = await recommend({ kv: env.OPENTIME_KV, config, token: t, verified, n: 6, rules, now, loads });
    expect(failed.reason).toBe("model-loading");
    expect(failed.items).toHaveLength(6);
    expect(failed.items.map((i) => i.id)).not.toContain(bought);
    expect(failed.items.map((i) => i.id)).not.toContain(seen);
    expect(failed.rules).toMatchObject({ excluded: 1, seen: 1 });
  });
});

describe("a campaign's conditions on the reader's own facts while the model cannot serve", () => {
  it("engagement, purchases and topics are known from the profile (the model's segment and scores are not)", async () => {
    const { t, verified, config, now, loads } = await setup();
    const raw = (await env.OPENTIME_KV.get(kvKeys.profile(verified.ok ? verified.claims.u : ""), "json")) as Profile;
    await env.OPENTIME_KV.put(
      kvKeys.profile(raw.userId),
      JSON.stringify({ ...raw, consent: { ...raw.consent, topics: ["garden"] } }),
    );
    // the README's own example: a welcome block for readers with no purchases (or none known), above the picks
    const campaign = CampaignSchema.parse({
      v: 2,
      blocks: [
        { id: "segment", type: "recommendations", when: { segment: { $exists: true } } },
        {
          id: "welcome",
          type: "static",
          title: "New here? Start with our bestsellers",
          image: "https://cdn.shop.example/welcome.png",
          url: "https://shop.example/bestsellers",
          when: { $or: [{ purchases: { $lt: 1 } }, { purchases: { $exists: false } }] },
        },
        { id: "garden", type: "recommendations", when: { topics: { $in: ["garden"] } } },
      ],
      default: { id: "picks", type: "recommendations" },
    });
    const input = {
      kv: env.OPENTIME_KV,
      config,
      token: t,
      verified,
      campaign,
      n: 4,
      open: {},
      now,
      waitUntil: () => undefined,
    };
    const ok = await serveBlock({ ...input, loads: loads(false) });
    // (the fixture's readers have a segment: with the model serving, it is known)
    expect(ok.facts.segment).toEqual(expect.any(String));
    const failed = await serveBlock({ ...input, loads: loads(true) });
    expect(failed.rec.reason).toBe("model-loading");
    // a buyer is not welcomed as new while the model loads: their purchases and topics are their profile's
    expect(failed.facts).toMatchObject({ purchases: ok.facts.purchases, topics: ["garden"], segment: null });
    expect(failed.facts.engagement).toBe(ok.facts.engagement);
    expect(failed.selection.block.id).toBe("garden");
    expect(failed.explanation).toMatch(
      /^garden \(blocks\[2\]: topics ok\); skipped segment: segment no; skipped welcome/,
    );
  });
});
