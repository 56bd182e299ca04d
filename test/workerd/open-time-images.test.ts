/**
 * Open-time images and click-through inside workerd, with real KV, real ORT and real resvg: decodable
 * PNGs of the slot's size for good and bad input alike, decisions that hold under `freeze` and follow
 * the latest open under `live`, Apple MPP prefetches and HEADs that do not freeze, and fuzzed paths that never 5xx.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { decode } from "fast-png";
import { beforeEach, describe, expect, it } from "vitest";
import type { Catalog } from "../../core/catalog";
import { kvKeys } from "../../core/kv-keys";
import type { Profile } from "../../core/profile";
import { mintToken } from "../../core/token";
import { blockMemoStats, resetBlockMemo } from "../../worker/decisions/block-memo";
import { resetCampaignCache } from "../../worker/decisions/campaign-store";
import { classifyFetch } from "../../worker/decisions/classify-fetch";
import { resetPictureCache } from "../../worker/images/picture-cache";
import { resetRenderCache } from "../../worker/images/render-slot";
import { measure, wrapText } from "../../worker/images/text-layout";
import worker from "../../worker/index";
import { resetModelCache } from "../../worker/model/model-store";
import { TEST_ADMIN_KEY, TEST_TOKEN_SECRET } from "./fixture";
import { clearKv, decisionKeyOf, fixture, recordingQueue, seedModel } from "./support/harness";

const ORIGIN = "https://opentime.test";
const APPLE_MPP = { headers: { "User-Agent": "Mozilla/5.0" }, cf: { asn: 714, asOrganization: "Apple Inc." } };
const GMAIL = {
  headers: {
    "User-Agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
  },
};

async function fetchWorker(
  path: string,
  init: { headers?: Record<string, string>; cf?: Record<string, unknown>; method?: string; body?: string } = {},
  bindings: typeof env = env,
) {
  const ctx = createExecutionContext();
  const req = new Request(`${ORIGIN}${path}`, {
    method: init.method ?? "GET",
    headers: init.headers,
    body: init.body,
    redirect: "manual",
    cf: init.cf,
  } as RequestInit);
  const res = await worker.fetch(req, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function image(path: string, init = {}) {
  const res = await fetchWorker(path, init);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const png = decode(bytes);
  return { res, bytes, png, item: res.headers.get("X-Opentime-Item"), reason: res.headers.get("X-Opentime-Reason") };
}

const tokenFor = (user: string, campaign: string, ttl = 3600) =>
  mintToken(TEST_TOKEN_SECRET, { user, campaign, ttlSeconds: ttl });
const catalog = () => JSON.parse(fixture().catalogJson) as Catalog;
const itemById = (id: string) => catalog().items.find((it) => it.id === id);
const profiles = () => fixture().profiles.filter((p) => p.factors !== null) as Profile[];

async function setCampaign(id: string, settings: Record<string, unknown>) {
  const res = await fetchWorker(`/v1/admin/campaigns/${id}`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify(settings),
  });
  expect(res.status).toBe(200);
}

/**
 * Gives `user` another reader's tastes, so a fresh decision differs from the stored one. Tastes change
 * over hours, not within one open: the block's shared ranking (a few seconds) is forgotten too.
 */
async function changeTastes(user: string, donor: Profile) {
  await env.OPENTIME_KV.put(kvKeys.profile(user), JSON.stringify({ ...donor, userId: user }));
  resetBlockMemo();
}

/** A reader and a donor whose top recommendation differs. */
async function readerAndDonor(campaign: string): Promise<[Profile, Profile]> {
  const [a, ...rest] = profiles();
  const first = (await image(`/v1/img/${await tokenFor((a as Profile).userId, "probe")}/card-0.png`)).item;
  for (const b of rest) {
    const other = (await image(`/v1/img/${await tokenFor(b.userId, "probe")}/card-0.png`)).item;
    if (other !== first) return [a as Profile, b];
  }
  throw new Error(`no donor with different tastes for ${campaign}`);
}

beforeEach(async () => {
  await clearKv();
  await seedModel();
  resetCampaignCache();
  resetPictureCache();
  resetRenderCache();
  resetBlockMemo();
});

describe("GET /v1/img/<token>/<slot>.png", () => {
  it("renders the reader's product as a PNG of the slot's size, 1x and 2x, with no-cache headers", async () => {
    const p = profiles()[0] as Profile;
    const t = await tokenFor(p.userId, "spring");
    const one = await image(`/v1/img/${t}/row-1.png`);
    expect(one.res.status).toBe(200);
    expect(one.res.headers.get("Content-Type")).toBe("image/png");
    expect(one.res.headers.get("Content-Length")).toBe(String(one.bytes.byteLength));
    expect(one.res.headers.get("Cache-Control")).toBe("no-cache, max-age=0");
    expect([one.png.width, one.png.height]).toEqual([200, 300]);
    expect(one.reason).toBe("personalized");
    expect(one.res.headers.get("X-Opentime-Render")).toBe("ok");
    // slot 1 of a row shows the reader's second recommendation
    const recs = await fetchWorker(`/v1/amp/recs?t=${t}&n=3`, {
      headers: { "AMP-Email-Sender": "newsletter@shop.example" },
    });
    const items = ((await recs.json()) as { items: { id: string }[] }).items;
    expect(one.item).toBe(items[1]?.id);

    const retina = await image(`/v1/img/${t}/row-1@2x.png`);
    expect([retina.png.width, retina.png.height]).toEqual([400, 600]);
    expect(retina.item).toBe(one.item);
    const grid = await image(`/v1/img/${t}/grid-3.png`);
    expect([grid.png.width, grid.png.height]).toEqual([300, 340]);
  });

  it("draws the product's picture into the card under its rounded corners and badge, and text beside it", async () => {
    const p = profiles()[1] as Profile;
    await setCampaign("spring", { badge: "For you" });
    const { png, res } = await image(`/v1/img/${await tokenFor(p.userId, "spring")}/card-0.png`);
    expect(res.headers.get("X-Opentime-Render")).toBe("ok");
    const data = png.data as Uint8Array;
    const at = (x: number, y: number) =>
      Array.from(data.slice((y * png.width + x) * png.channels, (y * png.width + x) * png.channels + 3));
    // inside the picture box (20..240): the demo picture's saturated category colour, not the grey placeholder
    const [r, g, b] = at(30, 230) as [number, number, number];
    expect(Math.max(r, g, b) - Math.min(r, g, b)).toBeGreaterThan(40);
    // the picture goes under the card: its rounded corner stays the card's white, the badge stays red on top
    expect(at(20, 20)).toEqual([255, 255, 255]);
    expect(at(31, 39)).toEqual([0xd7, 0x26, 0x3d]);
    // the title's dark ink is somewhere in the text column (x 264..580, y 34..120)
    let ink = 0;
    for (let y = 34; y < 120; y++) for (let x = 264; x < 580; x += 2) if ((at(x, y)[0] as number) < 80) ink++;
    expect(ink).toBeGreaterThan(100);
  });

  it("answers bad tokens, bad slots and malformed paths with a decodable PNG, never a 5xx", async () => {
    const good = await tokenFor((profiles()[0] as Profile).userId, "spring");
    const expired = await tokenFor("u1", "spring", -10);
    const cases: [string, [number, number]][] = [
      [`/v1/img/not-a-token/row-0.png`, [200, 300]],
      [`/v1/img/${expired}/grid-2.png`, [300, 340]],
      [`/v1/img/${good.slice(0, -4)}AAAA/card-0.png`, [600, 260]],
      [`/v1/img/${good}/row-9.png`, [200, 300]],
      [`/v1/img/${good}/grid-4@2x.png`, [600, 680]],
      [`/v1/img/${good}/banner.png`, [600, 260]],
      [`/v1/img/${good}/`, [600, 260]],
      [`/v1/img/`, [600, 260]],
      [`/v1/img/${good}`, [600, 260]],
      [`/v1/img/%E0%A4%A/row-0.png`, [200, 300]],
      [`/v1/img/${"x".repeat(5000)}/card-0.png`, [600, 260]],
      [`/v1/img/a/b/c/d/row-2.png`, [200, 300]],
      [`/v1/img/${good}/row-0.png?x=<script>`, [200, 300]],
      [`/v1/img/..%2F..%2Fetc%2Fpasswd/card-0.png`, [600, 260]],
    ];
    for (const [path, [w, h]] of cases) {
      const out = await image(path);
      expect(out.res.status, path).toBe(200);
      expect(out.res.headers.get("Content-Type"), path).toBe("image/png");
      expect([out.png.width, out.png.height], path).toEqual([w, h]);
    }
    // a bad slot is the generic card, and says so as every drawn image does
    const badSlot = await image(`/v1/img/${good}/banner.png`);
    expect(badSlot.res.headers.get("X-Opentime-Reason")).toBe("bad-slot");
    expect(["generic-card", "cached", "shared"]).toContain(badSlot.res.headers.get("X-Opentime-Render"));
    expect(badSlot.res.headers.get("Server-Timing")).toMatch(/total;dur=/);
  });

  it("fuzz: random bytes in token and slot never give a 5xx or an undecodable image", async () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const alphabet = "abcXYZ019-_.~%@!$&'()*+,;=:/ \u00e9\u4e2d";
    const junk = (n: number) =>
      Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join("");
    for (let i = 0; i < 60; i++) {
      const path = `/v1/img/${encodeURI(junk(1 + Math.floor(rand() * 80)))}/${encodeURI(junk(Math.floor(rand() * 12)))}${rand() < 0.7 ? ".png" : ""}`;
      const out = await image(path);
      expect(out.res.status, path).toBe(200);
      expect(out.png.width, path).toBeGreaterThan(0);
    }
  });

  it("serves generic content with no model at all, and a placeholder when the picture cannot be fetched", async () => {
    await clearKv();
    const none = await image(`/v1/img/${await tokenFor("u1", "spring")}/row-0.png`);
    expect([none.png.width, none.png.height]).toEqual([200, 300]);
    expect(none.item).toBe("none");

    await seedModel();
    const cat = catalog();
    for (const it of cat.items) it.image = `https://pictures.invalid/${it.id}.jpg`;
    await env.OPENTIME_KV.put(kvKeys.catalog(fixture().version), JSON.stringify(cat));
    const { resetModelCache } = await import("../../worker/model/model-store");
    resetModelCache();
    const out = await image(`/v1/img/${await tokenFor((profiles()[0] as Profile).userId, "spring")}/row-0.png`);
    expect(out.res.status).toBe(200);
    expect(out.reason).toBe("personalized");
    expect(out.res.headers.get("X-Opentime-Render")).toMatch(/^picture-/);
    expect([out.png.width, out.png.height]).toEqual([200, 300]);
  });
});

describe("decisions and click-through", () => {
  it("freeze: the click after an open goes to the product the open showed, though tastes changed since", async () => {
    const [reader, donor] = await readerAndDonor("spring");
    await clearKv();
    await seedModel();
    await setCampaign("spring", { policy: "freeze", utm: { source: "newsletter", medium: "email" } });
    const t = await tokenFor(reader.userId, "spring");
    const opened = await image(`/v1/img/${t}/card-0.png`, GMAIL);
    expect(opened.res.headers.get("X-Opentime-Fetch")).toBe("gmail-proxy");
    await changeTastes(reader.userId, donor);

    const click = await fetchWorker(`/v1/c/${t}/card-0`);
    expect(click.status).toBe(302);
    const location = new URL(click.headers.get("Location") as string);
    const shown = itemById(opened.item as string);
    expect(`${location.origin}${location.pathname}`).toBe(new URL(shown?.url ?? "missing:", ORIGIN).toString());
    expect(location.searchParams.get("utm_source")).toBe("newsletter");
    expect(location.searchParams.get("utm_campaign")).toBe("spring");
    expect(location.searchParams.get("utm_content")).toBe("card-0");

    const reopened = await image(`/v1/img/${t}/card-0.png`);
    expect(reopened.item).toBe(opened.item);
    expect(reopened.reason).toBe("stored-frozen");
  });

  it("a product with no link of its own: the click goes to the fallback, and says which product the slot showed", async () => {
    const f = fixture();
    const catalog = JSON.parse(f.catalogJson) as { items: { url: string }[] };
    for (const item of catalog.items) item.url = "";
    await clearKv();
    resetModelCache();
    await seedModel({ fixture: { ...f, catalogJson: JSON.stringify(catalog) } });
    const t = await tokenFor((profiles()[0] as Profile).userId, "nolink");
    const opened = await image(`/v1/img/${t}/card-0.png`);
    expect(opened.item).not.toBe("none");
    const click = await fetchWorker(`/v1/c/${t}/card-0`);
    expect(click.status).toBe(302);
    expect(click.headers.get("Location")).toBe(`${ORIGIN}/`);
    expect(click.headers.get("X-Opentime-Item")).toBe(opened.item);
    resetModelCache();
  });

  it("each send of a campaign decides on its own (a trigger's emails share one), and an older key still holds", async () => {
    const [reader, donor] = await readerAndDonor("spring");
    await clearKv();
    await seedModel();
    // two emails of one campaign: their tokens' expiries tell them apart
    const first = await tokenFor(reader.userId, "spring", 3600);
    const second = await tokenFor(reader.userId, "spring", 7200);
    const opened = await image(`/v1/img/${first}/card-0.png`, GMAIL);
    await changeTastes(reader.userId, donor);
    const later = await image(`/v1/img/${second}/card-0.png`, GMAIL);
    expect(later.reason).not.toMatch(/^stored/);
    expect(later.item).not.toBe(opened.item);
    // each email's re-open and click keep to what that email showed
    expect((await image(`/v1/img/${first}/card-0.png`)).item).toBe(opened.item);
    expect((await fetchWorker(`/v1/c/${first}/card-0`)).headers.get("X-Opentime-Item")).toBe(opened.item);
    expect((await fetchWorker(`/v1/c/${second}/card-0`)).headers.get("X-Opentime-Item")).toBe(later.item);
    // a decision stored before they were kept per send (one key per campaign): a click still leads to it
    const own = await decisionKeyOf(first, "card-0");
    await env.OPENTIME_KV.put(
      kvKeys.legacyDecision(reader.userId, "spring", "card-0"),
      (await env.OPENTIME_KV.get(own)) as string,
    );
    await env.OPENTIME_KV.delete(own);
    const upgraded = await fetchWorker(`/v1/c/${first}/card-0`);
    expect(upgraded.headers.get("X-Opentime-Reason")).toBe("stored-frozen");
    expect(upgraded.headers.get("X-Opentime-Item")).toBe(opened.item);
  });

  it("the slots of a block share one ranking: a row's 3 images run the model once, and show items 1-3", async () => {
    const reader = (profiles()[0] as Profile).userId;
    const t = await tokenFor(reader, "spring");
    const shared = await Promise.all([0, 1, 2].map(async (i) => (await image(`/v1/img/${t}/row-${i}@2x.png`)).item));
    expect(blockMemoStats()).toEqual({ hits: 2, misses: 1 });
    expect(new Set(shared).size).toBe(3);
    // each slot ranking on its own (another campaign, nothing shared) shows the same three
    const other = await tokenFor(reader, "summer");
    const alone: (string | null)[] = [];
    for (const i of [0, 1, 2]) {
      resetBlockMemo();
      alone.push((await image(`/v1/img/${other}/row-${i}@2x.png`)).item);
    }
    expect(alone).toEqual(shared);
    expect(blockMemoStats()).toEqual({ hits: 0, misses: 1 });
  });

  it("live: every open decides again and the click follows the latest", async () => {
    const [reader, donor] = await readerAndDonor("flash");
    await clearKv();
    await seedModel();
    await setCampaign("flash", { policy: "live" });
    const t = await tokenFor(reader.userId, "flash");
    const first = await image(`/v1/img/${t}/card-0.png`);
    await changeTastes(reader.userId, donor);
    const second = await image(`/v1/img/${t}/card-0.png`);
    expect(second.item).not.toBe(first.item);
    const click = await fetchWorker(`/v1/c/${t}/card-0`);
    expect(click.headers.get("X-Opentime-Item")).toBe(second.item);
    expect(new URL(click.headers.get("Location") as string).pathname).toBe(
      new URL(itemById(second.item as string)?.url ?? "missing:", ORIGIN).pathname,
    );
  });

  it("an Apple MPP prefetch does not freeze: the reader's real open decides, and the click follows it", async () => {
    const [reader, donor] = await readerAndDonor("spring");
    await clearKv();
    await seedModel();
    const t = await tokenFor(reader.userId, "spring");
    const prefetch = await image(`/v1/img/${t}/card-0.png`, APPLE_MPP);
    expect(prefetch.res.headers.get("X-Opentime-Fetch")).toBe("apple-mpp");
    const stored = (await env.OPENTIME_KV.get(await decisionKeyOf(t, "card-0"), "json")) as {
      state: string;
    };
    expect(stored.state).toBe("provisional");

    await changeTastes(reader.userId, donor);
    const open = await image(`/v1/img/${t}/card-0.png`);
    expect(open.res.headers.get("X-Opentime-Fetch")).toBe("direct");
    expect(open.item).not.toBe(prefetch.item);
    const frozen = (await env.OPENTIME_KV.get(await decisionKeyOf(t, "card-0"), "json")) as {
      state: string;
      item: { id: string };
    };
    expect(frozen).toMatchObject({ state: "frozen", item: { id: open.item } });
    const click = await fetchWorker(`/v1/c/${t}/card-0`);
    expect(click.headers.get("X-Opentime-Item")).toBe(open.item);
  });

  it("a HEAD on an image or a click (link scanners) answers as a GET would, but records and stores nothing", async () => {
    const t = await tokenFor((profiles()[3] as Profile).userId, "spring");
    const { queue, sent } = recordingQueue();
    const bindings = { ...env, EVENTS: queue };
    const headImage = await fetchWorker(`/v1/img/${t}/row-0.png`, { method: "HEAD" }, bindings);
    expect(headImage.status).toBe(200);
    expect(headImage.headers.get("Content-Type")).toBe("image/png");
    expect(Number(headImage.headers.get("Content-Length"))).toBeGreaterThan(0);
    const shown = headImage.headers.get("X-Opentime-Item");
    expect(shown).not.toBe("none");
    // nothing stored: the click finds no decision, decides as the image did, and stores nothing either
    const headClick = await fetchWorker(`/v1/c/${t}/row-0`, { method: "HEAD" }, bindings);
    expect(headClick.status).toBe(302);
    expect(headClick.headers.get("X-Opentime-Item")).toBe(shown);
    expect(sent).toEqual([]);
    expect(await env.OPENTIME_KV.get(await decisionKeyOf(t, "row-0"))).toBeNull();

    // the reader's own open and click afterwards are recorded, and freeze what the HEADs answered
    const open = await fetchWorker(`/v1/img/${t}/row-0.png`, {}, bindings);
    expect(open.headers.get("X-Opentime-Item")).toBe(shown);
    expect(open.headers.get("Content-Length")).toBe(headImage.headers.get("Content-Length"));
    const click = await fetchWorker(`/v1/c/${t}/row-0`, {}, bindings);
    expect(click.headers.get("Location")).toBe(headClick.headers.get("Location"));
    expect(sent.map((e) => e.type)).toEqual(["email_open", "email_click"]);
    expect(await env.OPENTIME_KV.get(await decisionKeyOf(t, "row-0"), "json")).toMatchObject({
      state: "frozen",
      item: { id: shown },
    });
  });

  it("a HEAD on the click of a prefetched decision records no click and leaves the decision provisional", async () => {
    const t = await tokenFor((profiles()[4] as Profile).userId, "spring");
    const { queue, sent } = recordingQueue();
    const prefetch = await image(`/v1/img/${t}/card-0.png`, APPLE_MPP);
    const head = await fetchWorker(`/v1/c/${t}/card-0`, { method: "HEAD" }, { ...env, EVENTS: queue });
    expect(head.status).toBe(302);
    expect(head.headers.get("X-Opentime-Reason")).toBe("stored-provisional");
    expect(head.headers.get("X-Opentime-Item")).toBe(prefetch.item);
    expect(sent).toEqual([]);
    expect(await env.OPENTIME_KV.get(await decisionKeyOf(t, "card-0"), "json")).toMatchObject({
      state: "provisional",
    });
  });

  it("a click with no stored decision (images blocked) decides, stores, and later images show that product", async () => {
    const p = profiles()[2] as Profile;
    const t = await tokenFor(p.userId, "spring");
    const click = await fetchWorker(`/v1/c/${t}/row-2`);
    expect(click.status).toBe(302);
    const clicked = click.headers.get("X-Opentime-Item");
    expect(clicked).not.toBe("none");
    const later = await image(`/v1/img/${t}/row-2@2x.png`);
    expect(later.item).toBe(clicked);
    expect(later.reason).toBe("stored-frozen");
  });

  it("records real opens (once per campaign) and clicks on the profile, and no open for an Apple MPP prefetch", async () => {
    // readers no other test touches: events queued by earlier tests must not land on them
    const [reader, prefetched] = profiles().slice(-2) as [Profile, Profile];
    const score = async (user: string) =>
      ((await env.OPENTIME_KV.get(kvKeys.profile(user), "json")) as Profile).engagement.score;
    const before = { reader: await score(reader.userId), prefetched: await score(prefetched.userId) };
    const mpp = await tokenFor(prefetched.userId, "spring");
    await image(`/v1/img/${mpp}/row-0.png`, APPLE_MPP);
    const t = await tokenFor(reader.userId, "spring");
    await image(`/v1/img/${t}/row-0.png`, GMAIL);
    await image(`/v1/img/${t}/row-1.png`, GMAIL);
    await image(`/v1/img/${t}/row-0.png`); // a re-open: the same open, counted once
    expect((await fetchWorker(`/v1/c/${t}/row-1`)).status).toBe(302);
    // opens weigh 1 and clicks 3 (core/apply-events.ts); the real queue applies them within seconds
    const started = Date.now();
    while ((await score(reader.userId)) < before.reader + 4 && Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await score(reader.userId)) - before.reader).toBeCloseTo(4, 3);
    // the prefetch was fetched before the reader's events, so the queue has passed it by now
    expect(await score(prefetched.userId)).toBe(before.prefetched);
  });

  it("bad click URLs redirect to the product a bad-token image showed (popular), or home; never an error", async () => {
    const img = await image(`/v1/img/garbage/row-1.png`);
    const click = await fetchWorker(`/v1/c/garbage/row-1`);
    expect(click.status).toBe(302);
    expect(click.headers.get("X-Opentime-Item")).toBe(img.item);
    const bad = await fetchWorker(`/v1/c/garbage/nonsense`);
    expect(bad.status).toBe(302);
    expect(bad.headers.get("Location")).toBe(`${ORIGIN}/`);
  });

  it("campaign settings are validated: unknown policy -> 400 with a code", async () => {
    const res = await fetchWorker(`/v1/admin/campaigns/spring`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
      body: JSON.stringify({ policy: "sometimes" }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
  });
});

describe("card text layout", () => {
  it("wraps to the width, keeps to the line budget, and ends a cut title with an ellipsis on a word", () => {
    const title = "Hand-thrown stoneware serving bowl with a very long descriptive name that must wrap";
    const lines = wrapText(title, 176, 14, 3, 700);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(measure(line, 14, 700)).toBeLessThanOrEqual(176);
    expect(lines[2]).toMatch(/[A-Za-z]…$/);
    expect(lines.join(" ").replace("…", "")).toBe(title.slice(0, lines.join(" ").length - 1));
    expect(wrapText("Mug", 176, 14, 3)).toEqual(["Mug"]);
    // one word wider than the line is broken, not overflowed
    const long = wrapText("Supercalifragilisticexpialidocious-mega-long-sku", 60, 14, 2);
    for (const line of long) expect(measure(line, 14)).toBeLessThanOrEqual(60);
  });

  it("measures with the font's real advances (bold is wider; unknown glyphs err wide)", () => {
    expect(measure("Hello", 16, 700)).toBeGreaterThan(measure("Hello", 16, 400));
    expect(measure("i", 16)).toBeLessThan(measure("W", 16));
    expect(measure("中", 16)).toBeGreaterThan(measure("i", 16));
  });
});

describe("fetch classification", () => {
  it("tells Gmail's proxy, Apple MPP, other proxies and readers apart", () => {
    expect(classifyFetch({ userAgent: GMAIL.headers["User-Agent"] })).toBe("gmail-proxy");
    expect(classifyFetch({ userAgent: "Mozilla/5.0", asn: 714 })).toBe("apple-mpp");
    expect(classifyFetch({ userAgent: null, asOrganization: "Apple Inc." })).toBe("apple-mpp");
    // a real Safari on Apple's corporate network is a reader, not the prefetcher
    expect(
      classifyFetch({
        userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15",
        asn: 714,
      }),
    ).toBe("direct");
    expect(classifyFetch({ userAgent: "Mozilla/5.0", asn: 13335 })).toBe("direct");
    expect(
      classifyFetch({ userAgent: "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html" }),
    ).toBe("other-proxy");
  });
});

describe("slots the rules leave without a product", () => {
  const popularIds = (cat: Catalog) => cat.popular.map((i) => cat.items[i]?.id as string);

  /**
   * Stores campaign `id` whose rules allow `count` popular items the reader has not bought, and nothing else (the
   * popular list fills what the model's candidates leave short); returns them.
   */
  async function allowOnly(reader: Profile, id: string, count: number): Promise<string[]> {
    const bought = new Set(reader.purchases.map((p) => p.item));
    const cat = catalog();
    const allowed = popularIds(cat)
      .filter((item) => !bought.has(item))
      .slice(0, count);
    await setCampaign(id, {
      v: 2,
      fallbackUrl: "https://shop.example/all",
      default: {
        id: "picks",
        type: "recommendations",
        items: { exclude: { ids: cat.items.map((it) => it.id).filter((item) => !allowed.includes(item)) } },
      },
    });
    return allowed;
  }

  it("no product twice in one email: an empty slot draws the generic card, stays so, and its click goes to the fallback URL", async () => {
    // readers no other test uses: their clicks land on their profiles (and so their rankings) later
    const reader = profiles()[5] as Profile;
    // the rules allow two popular items only, for a row of three
    const allowed = await allowOnly(reader, "thin", 2);
    const t = await tokenFor(reader.userId, "thin");
    const row = await Promise.all([0, 1, 2].map((i) => image(`/v1/img/${t}/row-${i}.png`)));
    for (const slot of row) {
      expect(slot.res.status).toBe(200);
      expect(slot.res.headers.get("Content-Type")).toBe("image/png");
      expect([slot.png.width, slot.png.height]).toEqual([200, 300]);
    }
    // the two allowed items, each once; the third slot shows no product (before: the second one again)
    expect(new Set([row[0]?.item, row[1]?.item])).toEqual(new Set(allowed));
    expect(row[2]?.item).toBe("none");
    expect(row[2]?.res.headers.get("X-Opentime-Render")).toBe("generic-card");
    // each click leads to what its image showed; the empty slot's to the campaign's fallback URL
    for (const i of [0, 1]) {
      const click = await fetchWorker(`/v1/c/${t}/row-${i}`);
      expect(click.headers.get("X-Opentime-Item")).toBe(row[i]?.item);
    }
    const { queue, sent } = recordingQueue();
    const empty = await fetchWorker(`/v1/c/${t}/row-2`, {}, { ...env, EVENTS: queue });
    expect(empty.status).toBe(302);
    expect(empty.headers.get("Location")).toBe("https://shop.example/all");
    expect(empty.headers.get("X-Opentime-Item")).toBe("none");
    // the reader clicked: the click counts for the campaign and its slot, on no item
    expect(sent).toEqual([
      expect.objectContaining({ type: "email_click", user: reader.userId, campaign: "thin", slot: "row-2" }),
    ]);
    expect(sent[0]).not.toHaveProperty("item");
    // the empty slot's decision is kept like any other: with the rules lifted, a re-open and a click still agree
    expect(await env.OPENTIME_KV.get(await decisionKeyOf(t, "row-2"), "json")).toMatchObject({
      item: null,
      state: "frozen",
    });
    await setCampaign("thin", {
      v: 2,
      fallbackUrl: "https://shop.example/all",
      default: { id: "picks", type: "recommendations" },
    });
    resetCampaignCache();
    resetBlockMemo();
    const reopened = await image(`/v1/img/${t}/row-2.png`);
    expect([reopened.item, reopened.reason]).toEqual(["none", "stored-frozen"]);
    expect((await fetchWorker(`/v1/c/${t}/row-2`)).headers.get("Location")).toBe("https://shop.example/all");
  });

  it("a click with images blocked on a slot the rules leave empty goes to the fallback URL, and later images agree", async () => {
    const reader = profiles()[6] as Profile;
    const allowed = await allowOnly(reader, "thinner", 1);
    const t = await tokenFor(reader.userId, "thinner");
    const click = await fetchWorker(`/v1/c/${t}/grid-3`);
    expect(click.headers.get("Location")).toBe("https://shop.example/all");
    expect(click.headers.get("X-Opentime-Item")).toBe("none");
    const later = await image(`/v1/img/${t}/grid-3.png`);
    expect([later.item, later.reason]).toEqual(["none", "stored-frozen"]);
    expect((await image(`/v1/img/${t}/grid-0.png`)).item).toBe(allowed[0]);
  });
});
