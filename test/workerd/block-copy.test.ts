/**
 * Block copy end to end in workerd (core/block-copy.ts): the admin API refuses a template naming what it
 * cannot know, the path named; the AMP list carries the served block's headline and subline and each item's
 * badge and call to action; open-time images draw the block's copy, store it with the decision and redraw the
 * same words at a re-open under `freeze`; a countdown's copy tells the time left; the preview and the send-time
 * answer for the text part (POST /v1/admin/subjects) give the same block's copy.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { AmpRecsResponse } from "../../core/amp-list";
import type { CatalogItem } from "../../core/catalog";
import { kvKeys } from "../../core/kv-keys";
import type { Profile } from "../../core/profile";
import type { SubjectAnswer } from "../../core/subject-request";
import { mintToken } from "../../core/token";
import { resetLiveCatalogCache } from "../../worker/catalog/live-catalog";
import { resetBlockMemo } from "../../worker/decisions/block-memo";
import { resetCampaignCache } from "../../worker/decisions/campaign-store";
import { resetRenderCache } from "../../worker/images/render-slot";
import worker from "../../worker/index";
import { TEST_ADMIN_KEY, TEST_TOKEN_SECRET } from "./fixture";
import {
  ADMIN_HEADERS,
  clearKv,
  decisionKeyOf,
  fixture,
  putCampaign,
  SENDER,
  seedModel,
  send,
} from "./support/harness";

const ORIGIN = "https://opentime.test";
const admin = ADMIN_HEADERS;

const readers = () => fixture().profiles.filter((p) => p.factors !== null) as Profile[];
const catalog = () =>
  new Map((JSON.parse(fixture().catalogJson) as { items: CatalogItem[] }).items.map((i) => [i.id, i]));

async function ampList(user: string, campaign: string) {
  const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign, ttlSeconds: 3600 });
  const res = await send(`/v1/amp/recs?t=${t}&n=4`, { headers: { "AMP-Email-Sender": SENDER } });
  expect(res.status).toBe(200);
  return (await res.json()) as AmpRecsResponse;
}

const PICKS_COPY = {
  id: "picks",
  type: "recommendations",
  copy: {
    headline: "{{#item}}Picked for you: {{item.title}}{{/item}}",
    subline: "From {{item.price}}",
    cta: "Get {{item.title}}",
    badge: "{{item.category}}",
  },
};

beforeEach(async () => {
  await clearKv();
  await seedModel();
  resetCampaignCache();
  resetBlockMemo();
  resetLiveCatalogCache();
  resetRenderCache();
});

describe("block copy", () => {
  it("a template naming what it cannot know is refused, the field's path named", async () => {
    const bad = await putCampaign("bad", {
      v: 2,
      blocks: [
        {
          id: "x",
          type: "static",
          title: "Sale",
          image: "/demo/img/banner.png",
          url: "https://shop.example/",
          when: { country: { $eq: "DE" } },
          copy: { headline: "Hi {{firstName}}" },
        },
      ],
      default: { id: "d", type: "recommendations", copy: { cta: "{{> partial}}" } },
    });
    expect(bad.status).toBe(400);
    const { error } = (await bad.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/blocks\[0\]\.copy\.headline: unknown variable "firstName"/);
    expect(error.message).toMatch(/default\.copy\.cta: partials/);
    expect(await env.OPENTIME_KV.get(kvKeys.campaign("bad"))).toBeNull();
  });

  it("the AMP list carries the block's headline and subline, and each item's badge and call to action", async () => {
    const [a] = readers() as [Profile];
    expect((await putCampaign("copy", { v: 2, default: PICKS_COPY })).status).toBe(200);
    const body = await ampList(a.userId, "copy");
    const items = catalog();
    const first = items.get(body.items[0]?.id as string) as CatalogItem;
    expect(body.block).toEqual({ id: "picks", type: "recommendations" });
    expect(body.copy).toEqual({
      headline: `Picked for you: ${first.title}`.slice(0, 120),
      subline: `From ${body.items[0]?.price}`,
    });
    for (const it of body.items) {
      const item = items.get(it.id) as CatalogItem;
      const cta = `Get ${item.title}`;
      expect(it.cta).toBe(cta.length > 30 ? `${cta.slice(0, 29).trimEnd()}…` : cta);
      expect(it.badge).toBe(item.category.length > 16 ? `${item.category.slice(0, 15).trimEnd()}…` : item.category);
    }
    // emails already sent read this answer: its root keys, and no item field at its root for a template's
    // lookup to climb to from an item without a badge or call to action
    expect(Object.keys(body).sort()).toEqual(["block", "copy", "items"]);
    expect(Object.keys(body.items[0] ?? {}).sort()).toEqual([
      "badge",
      "cta",
      "currency",
      "id",
      "image",
      "price",
      "title",
      "url",
    ]);
  });

  it("a campaign without copy answers as before: no copy, the campaign's badge on every item", async () => {
    const [a] = readers() as [Profile];
    await putCampaign("plain", { v: 2, badge: "New", default: { id: "picks", type: "recommendations" } });
    const body = await ampList(a.userId, "plain");
    expect(body.copy).toBeUndefined();
    expect(body.items.length).toBe(4);
    for (const it of body.items) {
      expect(it.badge).toBe("New");
      expect(it.cta).toBeUndefined();
    }
  });

  it("images draw the block's copy, keep it with the decision, and redraw the same words at a re-open", async () => {
    const [a] = readers() as [Profile];
    await putCampaign("img", {
      v: 2,
      blocks: [
        {
          id: "de",
          type: "recommendations",
          when: { country: { $eq: "DE" } },
          copy: { headline: "Hallo", cta: "Ansehen" },
        },
      ],
      default: { id: "picks", type: "recommendations", copy: { headline: "Hello" } },
    });
    const t = await mintToken(TEST_TOKEN_SECRET, { user: a.userId, campaign: "img", ttlSeconds: 3600 });
    const first = await send(`/v1/img/${t}/card-0.png`, { cf: { country: "DE", timezone: "Europe/Berlin" } });
    expect(first.headers.get("X-Opentime-Block")).toMatch(/^de \(blocks\[0\]/);
    const png = new Uint8Array(await first.arrayBuffer());
    const stored = JSON.parse((await env.OPENTIME_KV.get(await decisionKeyOf(t, "card-0"))) as string);
    expect(stored.copy).toEqual({ headline: "Hallo", cta: "Ansehen" });

    // the same product without the copy draws a different picture
    const other = await mintToken(TEST_TOKEN_SECRET, { user: a.userId, campaign: "img2", ttlSeconds: 3600 });
    await putCampaign("img2", { v: 2, default: { id: "picks", type: "recommendations" } });
    const plain = await send(`/v1/img/${other}/card-0.png`, { cf: { country: "DE", timezone: "Europe/Berlin" } });
    expect(plain.headers.get("X-Opentime-Item")).toBe(first.headers.get("X-Opentime-Item"));
    expect(new Uint8Array(await plain.arrayBuffer())).not.toEqual(png);

    // the marketer rewrites the copy; a re-open (freeze) shows what the first open showed, from anywhere
    await putCampaign("img", {
      v: 2,
      blocks: [{ id: "de", type: "recommendations", when: { country: { $eq: "DE" } }, copy: { headline: "Neu" } }],
      default: { id: "picks", type: "recommendations", copy: { headline: "Hello" } },
    });
    resetCampaignCache();
    resetRenderCache();
    const again = await send(`/v1/img/${t}/card-0.png`, { cf: { country: "FR", timezone: "Europe/Paris" } });
    expect(again.headers.get("X-Opentime-Decision")).toBe("stored");
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(png);
  });

  it("a countdown's copy tells the time left at the open, and says it ended after the deadline", async () => {
    const [a] = readers() as [Profile];
    const countdown = (deadline: string) => ({
      v: 2,
      policy: "live",
      default: {
        id: "clock",
        type: "countdown",
        deadline,
        title: "Sale ends in",
        url: "https://shop.example/sale",
        ended: { title: "The sale is over" },
        copy: {
          headline: "{{#timeLeft}}Only {{timeLeft}} left{{/timeLeft}}{{^timeLeft}}Missed it? More soon{{/timeLeft}}",
        },
      },
    });
    await putCampaign("cd", countdown(new Date(Date.now() + 2 * 86400_000 + 3600_000).toISOString()));
    const running = await ampList(a.userId, "cd");
    expect(running.copy?.headline).toMatch(/^Only 2d 0[01]:\d\d:\d\d left$/);
    await putCampaign("cd", countdown(new Date(Date.now() - 1000).toISOString()));
    resetCampaignCache();
    const ended = await ampList(a.userId, "cd");
    expect(ended.copy?.headline).toBe("Missed it? More soon");
    expect(ended.items[0]?.title).toBe("The sale is over");
  });

  it("the preview and the text part's send-time answer give the block's copy", async () => {
    const [a, b] = readers() as [Profile, Profile];
    await putCampaign("pv", {
      v: 2,
      blocks: [
        {
          id: "buyers",
          type: "recommendations",
          when: { purchases: { $gte: 1 } },
          copy: {
            headline: "Welcome back",
            subline: "{{#item}}Starting with {{item.title}}{{/item}}{{^item}}New picks since your last order{{/item}}",
            cta: "See picks",
          },
        },
        // open facts are unknown at send time: this block is never the text part's
        { id: "night", type: "recommendations", when: { localHour: { $gte: 0 } }, copy: { headline: "Night" } },
        // nor one whose test of them holds while they are unknown ($not, $exists false): an evening block
        {
          id: "evening",
          type: "recommendations",
          when: { $not: { localHour: { $lt: 18 } } },
          copy: { headline: "This evening" },
        },
        { id: "elsewhere", type: "recommendations", when: { country: { $exists: false } }, copy: { headline: "Hi" } },
      ],
      default: { id: "picks", type: "recommendations", copy: { headline: "Picked for you" } },
    });
    const res = await send(`/v1/preview/email?user=${a.userId}&campaign=pv`, {
      headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    expect(res.status).toBe(200);
    const preview = (await res.json()) as {
      block: { id: string; copy?: { headline?: string; subline?: string } };
      parts: { ampStatic: string };
    };
    expect(preview.block.id).toBe("buyers");
    expect(preview.block.copy?.headline).toBe("Welcome back");
    expect(preview.block.copy?.subline).toMatch(/^Starting with /);
    expect(preview.parts.ampStatic).toContain('<h2 class="block-headline">Welcome back</h2>');
    expect(preview.parts.ampStatic).toContain('<span class="cta">See picks');

    const answer = await send("/v1/admin/subjects", {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ campaign: "pv", users: [a.userId, "nobody-known"] }),
    });
    expect(answer.status).toBe(200);
    const subjects = new Map(((await answer.json()) as { subjects: SubjectAnswer[] }).subjects.map((s) => [s.user, s]));
    expect(a.purchases.length).toBeGreaterThan(0);
    // the text part is read long after the send: no item (decided at the click), so its section drops out
    expect(subjects.get(a.userId)?.copy).toEqual({
      block: "buyers",
      headline: "Welcome back",
      subline: "New picks since your last order",
      cta: "See picks",
    });
    expect(subjects.get("nobody-known")?.copy).toEqual({
      block: "picks",
      headline: "Picked for you",
      subline: null,
      cta: null,
    });
    // a campaign without copy: none
    await putCampaign("bare", { v: 2, default: { id: "picks", type: "recommendations" } });
    const bare = await send("/v1/admin/subjects", {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ campaign: "bare", users: [b.userId] }),
    });
    expect(((await bare.json()) as { subjects: SubjectAnswer[] }).subjects[0]?.copy).toBeNull();
  });

  it("the text part of a countdown sent before its deadline says neither the time left nor that it ended", async () => {
    const [a] = readers() as [Profile];
    const countdown = (deadline: string) => ({
      v: 2,
      default: {
        id: "clock",
        type: "countdown",
        deadline,
        title: "Sale ends in",
        url: "https://shop.example/sale",
        ended: { title: "The sale is over" },
        copy: {
          headline: "Winter sale{{#timeLeft}}: only {{timeLeft}} left{{/timeLeft}}{{^timeLeft}} is over{{/timeLeft}}",
          subline: "{{^timeLeft}}Missed it? More soon{{/timeLeft}}",
          cta: "Shop now {{timeLeft}}",
        },
      },
    });
    const textPart = async () => {
      const res = await send("/v1/admin/subjects", {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ campaign: "cd", users: [a.userId] }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { subjects: SubjectAnswer[] }).subjects[0]?.copy;
    };
    // read later, before or after the deadline: nothing that says which
    await putCampaign("cd", countdown(new Date(Date.now() + 2 * 86400_000).toISOString()));
    expect(await textPart()).toEqual({ block: "clock", headline: "Winter sale", subline: null, cta: "Shop now" });
    // sent after it: it is over whenever it is read
    await putCampaign("cd", countdown(new Date(Date.now() - 1000).toISOString()));
    resetCampaignCache();
    expect(await textPart()).toEqual({
      block: "clock",
      headline: "Winter sale is over",
      subline: "Missed it? More soon",
      cta: "Shop now",
    });
  });

  it("a batch of 150 readers with copy stays within a Worker's 1,000 KV reads, and every answer is a real one", async () => {
    const buyers = readers().filter((p) => p.purchases.length > 0);
    await putCampaign("batch", {
      v: 2,
      blocks: [
        { id: "buyers", type: "recommendations", when: { purchases: { $gte: 1 } }, copy: { headline: "Welcome back" } },
      ],
      default: { id: "picks", type: "recommendations", copy: { headline: "Picked for you" } },
      subjects: {
        rules: [{ id: "b", when: { purchases: { $gte: 1 } }, subject: "Hi again" }],
        default: { subject: "Hi" },
      },
    });
    // readers without a profile are the dearest (their legacy tombstones are read too)
    const users = [...buyers.map((p) => p.userId), ...Array.from({ length: 150 }, (_, i) => `walk-in-${i}`)].slice(
      0,
      150,
    );
    let reads = 0;
    const kv = new Proxy(env.OPENTIME_KV, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "get" || prop === "getWithMetadata" || prop === "list") reads++;
          return value.apply(target, args);
        };
      },
    });
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${ORIGIN}/v1/admin/subjects`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ campaign: "batch", users }),
      }),
      { ...env, OPENTIME_KV: kv },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    const answers = ((await res.json()) as { subjects: SubjectAnswer[] }).subjects;
    expect(answers.length).toBe(150);
    for (const a of answers) {
      const buyer = buyers.some((p) => p.userId === a.user);
      expect(a.copy?.block, a.user).toBe(buyer ? "buyers" : "picks");
      expect(a.subject, a.user).toBe(buyer ? "Hi again" : "Hi");
    }
    expect(reads).toBeLessThan(1000);
  });
});
