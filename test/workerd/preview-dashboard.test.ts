/**
 * The preview and the dashboard as local development serves them (DEMO_ROUTES on 127.0.0.1: open, no key), each
 * behaviour found by review with its test: the user picker's ids, the dashboard's model section, writes from
 * another site, a reset within one invocation's KV operations, the reader's arm under an experiment.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import { mintToken, sendOf, verifyToken } from "../../core/token";
import { resetExperimentCache } from "../../worker/experiments/experiment-store";
import worker from "../../worker/index";
import { TEST_ADMIN_KEY, TEST_TOKEN_SECRET } from "./fixture";
import {
  ADMIN_HEADERS,
  clearExperimentRegistry,
  clearKv,
  fixture,
  recordingQueue,
  SENDER,
  seedModel,
  send,
  token,
} from "./support/harness";

const LOCAL = "http://127.0.0.1:8787";

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${LOCAL}${path}`, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const user = () => fixture().profiles[0]?.userId as string;
/** a preview email's token (`p: 1`), as the page's reset sends it */
let previewToken = "";
beforeAll(async () => {
  previewToken = await mintToken(TEST_TOKEN_SECRET, {
    user: user(),
    campaign: "demo",
    ttlSeconds: 3600,
    preview: true,
  });
});

beforeEach(async () => {
  await clearKv();
  await seedModel();
});

describe("the preview's user picker", () => {
  it("names a user id with ':' whole, whether KV holds their profile or only their features", async () => {
    const profile = (await env.OPENTIME_KV.get(kvKeys.profile(user()))) as string;
    await env.OPENTIME_KV.put(kvKeys.profile("shop:1001"), profile);
    await env.OPENTIME_KV.put(kvKeys.features("crm:77:a", "v20240101"), "{}");
    const res = await request("/v1/preview/users");
    expect(res.status).toBe(200);
    const { users } = (await res.json()) as { users: string[] };
    expect(users).toContain("shop:1001");
    expect(users).toContain("crm:77:a");
    expect(users).toContain(user());
    // no id cut at its first ':' (a reader who does not exist)
    expect(users).not.toContain("shop");
    expect(users).not.toContain("crm");
  });

  it("leaves out an id the preview cannot mint a token for: the blocks table answers for the other readers", async () => {
    // an earlier version stored ids shaped like an address through an encoded '@' (core/events.ts HeldUserIdSchema)
    const profile = (await env.OPENTIME_KV.get(kvKeys.profile(user()))) as string;
    await env.OPENTIME_KV.put(kvKeys.profile("a%40example.com"), profile);
    const { users } = (await (await request("/v1/preview/users")).json()) as { users: string[] };
    expect(users).not.toContain("a%40example.com");
    const res = await request("/v1/preview/blocks?campaign=demo");
    expect(res.status).toBe(200);
    const { readers } = (await res.json()) as { readers: { user: string }[] };
    expect(readers.map((r) => r.user)).toContain(user());
  });
});

describe("the dashboard's model health", () => {
  it("with no model active, says so once", async () => {
    await env.OPENTIME_KV.delete(kvKeys.activeModel);
    const res = await request("/dashboard");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html.match(/No model is active/g)).toHaveLength(1);
  });

  it("offers Roll back only when an earlier version was active, naming it; else says there is none", async () => {
    const active = fixture().version;
    // a first model: nothing was active before it
    const first = await (await request("/dashboard")).text();
    expect(first).not.toContain('data-testid="rollback"');
    expect(first).toContain("Nothing to roll back to: no other version was active before");
    // the history holds only the active version itself (an activation whose pointer write failed): still none
    const at = new Date().toISOString();
    await env.OPENTIME_KV.put(kvKeys.modelHistory, JSON.stringify([{ version: active, activatedAt: at }]));
    expect(await (await request("/dashboard")).text()).not.toContain('data-testid="rollback"');
    // an earlier version: the button names the one it returns to
    await env.OPENTIME_KV.put(
      kvKeys.modelHistory,
      JSON.stringify([
        { version: "v-older", activatedAt: at },
        { version: active, activatedAt: at },
      ]),
    );
    const later = await (await request("/dashboard")).text();
    expect(later).toContain('data-testid="rollback">Roll back to <code>v-older</code>');
    expect(later).not.toContain("Nothing to roll back to");
  });
});

describe("the dashboard's drift hint (no drift run yet)", () => {
  const page = async (origin: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`${origin}/dashboard`, init), env, ctx);
    await waitOnExecutionContext(ctx);
    // the paragraph as a browser shows it (mustache escapes quotes, / and =)
    const entities: Record<string, string> = { "&quot;": '"', "&#x2F;": "/", "&#x3D;": "=" };
    return (await res.text())
      .match(/No drift run yet.*?<\/p>/)?.[0]
      .replace(/&quot;|&#x2F;|&#x3D;/g, (e) => entities[e] as string);
  };

  it("names the port the Worker runs on, and no local command on a public host", async () => {
    expect(await page("http://127.0.0.1:8788")).toContain('curl "http://127.0.0.1:8788/__scheduled?cron=30+4+*+*+*"');
    expect(await page("http://localhost:9000")).toContain('curl "http://localhost:9000/__scheduled?cron=30+4+*+*+*"');
    const deployed = await page("https://opentime.example", { headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(deployed).toContain("No drift run yet: the daily Cron Trigger writes one.");
    expect(deployed).not.toContain("curl");
  });
});

describe("the preview's writes from another site", () => {
  const reset = () => `/v1/preview/reset?t=${previewToken}`;
  const campaign = JSON.stringify({ v: 2, default: { id: "picks", type: "recommendations" } });

  it("are refused (403 ORIGIN_NOT_ALLOWED): another page cannot post them with the open loopback gate", async () => {
    const decision = kvKeys.decision(user(), "demo", 2_000_000_000, "row-0");
    await env.OPENTIME_KV.put(decision, "{}");
    for (const origin of ["https://evil.example", "null"]) {
      const res = await request(reset(), { method: "POST", headers: { Origin: origin } });
      expect(res.status, origin).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ORIGIN_NOT_ALLOWED");
      const put = await request("/v1/preview/campaigns/demo-x", {
        method: "PUT",
        headers: { Origin: origin, "Content-Type": "application/json" },
        body: campaign,
      });
      expect(put.status, origin).toBe(403);
    }
    expect(await env.OPENTIME_KV.get(decision)).not.toBeNull();
    expect(await env.OPENTIME_KV.get(kvKeys.campaign("demo-x"))).toBeNull();
  });

  it("are answered from the preview's own page, and from a client that sends no Origin", async () => {
    for (const headers of [{ Origin: LOCAL }, {}] as Record<string, string>[]) {
      expect((await request(reset(), { method: "POST", headers })).status).toBe(200);
      const put = await request("/v1/preview/campaigns/demo-x", {
        method: "PUT",
        headers: { ...headers, "Content-Type": "application/json" },
        body: campaign,
      });
      expect(put.status).toBe(200);
    }
    // reads are not writes: another site's Origin on a GET changes nothing and is answered as before
    expect((await request("/v1/preview/users", { headers: { Origin: "https://evil.example" } })).status).toBe(200);
  });
});

describe("the preview's reset", () => {
  it("forgets the shown preview email's decisions alone: the reader's real emails keep theirs, and a real token is refused", async () => {
    const mint = (preview: boolean, ttlSeconds = 3600) =>
      mintToken(TEST_TOKEN_SECRET, { user: user(), campaign: "demo", ttlSeconds, preview });
    const [shown, other, real] = [await mint(true), await mint(true, 7200), await mint(false)];
    const keyOf = async (t: string, slot: string) => {
      const v = await verifyToken([TEST_TOKEN_SECRET], t);
      if (!v.ok) throw new Error(v.reason);
      return kvKeys.decision(user(), "demo", sendOf(v.claims), slot);
    };
    const shownKeys = [await keyOf(shown, "row-0"), await keyOf(shown, "row-2"), await keyOf(shown, "grid-3")];
    const kept = [await keyOf(other, "row-0"), await keyOf(real, "row-0")];
    for (const k of [...shownKeys, ...kept]) await env.OPENTIME_KV.put(k, "{}");
    const res = await request(`/v1/preview/reset?t=${shown}`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: 3, pending: 0 });
    for (const k of shownKeys) expect(await env.OPENTIME_KV.get(k), k).toBeNull();
    for (const k of kept) expect(await env.OPENTIME_KV.get(k), k).not.toBeNull();
    // a real email's token: its decisions are what its clicks lead to
    const refused = await request(`/v1/preview/reset?t=${real}`, { method: "POST" });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
    expect(await env.OPENTIME_KV.get(kept[1] as string)).not.toBeNull();
    const forged = await request(`/v1/preview/reset?t=${shown.slice(0, -2)}xx`, { method: "POST" });
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe("TOKEN_INVALID");
  });
});

describe("the preview's email", () => {
  it("answers its opens, AMP list, pixel and clicks as an email's, and records nothing on the reader", async () => {
    const { queue, sent } = recordingQueue();
    const as = async (path: string, headers: Record<string, string> = {}) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`${LOCAL}${path}`, { headers }), { ...env, EVENTS: queue }, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const preview = (await (await as(`/v1/preview/email?user=${user()}&campaign=demo`)).json()) as {
      token: string;
      slots: { imageUrl: string; clickUrl: string }[];
    };
    // what an email does with a token: its first image (the open), the AMP list, the pixel, a click
    const opened = async (t: string) => {
      const slot = preview.slots[0] as { imageUrl: string; clickUrl: string };
      const path = (url: string) => new URL(url.replace(preview.token, t)).pathname;
      const image = await as(path(slot.imageUrl));
      expect([image.status, image.headers.get("Content-Type")]).toEqual([200, "image/png"]);
      expect((await as(`/v1/amp/recs?t=${t}&n=4`, { "AMP-Email-Sender": SENDER })).status).toBe(200);
      expect((await as(`/v1/e/${t}.gif?type=email_open`)).status).toBe(200);
      expect((await as(path(slot.clickUrl))).status).toBe(302);
    };
    await opened(preview.token);
    // and its preferences form, submitted, changes nothing of the reader's consent
    const ctx = createExecutionContext();
    const form = await worker.fetch(
      new Request(`${LOCAL}/v1/amp/preferences?t=${preview.token}`, {
        method: "POST",
        headers: { "AMP-Email-Sender": SENDER, "Content-Type": "application/x-www-form-urlencoded" },
        body: "form=2&tracking=off&unsubscribe=on",
      }),
      { ...env, EVENTS: queue },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(form.status).toBe(200);
    expect(sent).toEqual([]);
    // the same with the reader's own email token records the opens (the images', the AMP list's, with what they
    // showed) and the click
    await opened(await token(user()));
    expect(new Set(sent.map((e) => e.type))).toEqual(new Set(["email_open", "email_click"]));
    expect(sent.filter((e) => e.type === "email_open" && (e.items?.length ?? 0) > 0).length).toBeGreaterThan(0);
  });
});

describe("the preview under an experiment", () => {
  it("shows the reader's arm and its block, as the real email's AMP list serves them (not the campaign alone)", async () => {
    await clearExperimentRegistry();
    resetExperimentCache();
    const banner = {
      type: "static",
      title: "Spring sale",
      image: `${LOCAL}/demo/img/x.png`,
      url: "https://shop.example/",
    };
    const put = await send("/v1/admin/experiments/spring-test", {
      method: "PUT",
      headers: ADMIN_HEADERS,
      body: JSON.stringify({
        campaign: "spring",
        variants: [
          { id: "banner", weight: 1, content: { v: 2, default: { id: "sale", ...banner } } },
          { id: "popular", weight: 1, content: "popular" },
        ],
      }),
    });
    expect(put.status).toBe(200);
    const users = (
      (await (await request("/v1/preview/blocks?campaign=spring")).json()) as {
        readers: { user: string; block: string; experiment: string | null }[];
      }
    ).readers;
    // each reader's arm, and its block: the banner arm's `sale`, the popular arm's `popular` (it was `default`)
    expect(users.length).toBeGreaterThan(1);
    for (const r of users) {
      expect(r.experiment).toMatch(/^spring-test:(banner|popular)$/);
      expect(r.block).toBe(r.experiment === "spring-test:banner" ? "sale" : "popular");
    }
    for (const r of users.slice(0, 4)) {
      const preview = (await (await request(`/v1/preview/email?user=${r.user}&campaign=spring`)).json()) as {
        token: string;
        experiment: string | null;
        block: { id: string };
        recs: { items: { id: string }[] };
      };
      // the same token's AMP list (a preview's: it records nothing) serves that arm and block, those items
      const amp = await request(`/v1/amp/recs?t=${preview.token}&n=6`, { headers: { "AMP-Email-Sender": SENDER } });
      const body = (await amp.json()) as { items: { id: string }[]; block: { id: string } };
      expect(preview.experiment).toBe(amp.headers.get("X-Opentime-Experiment"));
      expect(preview.experiment).toBe(r.experiment);
      expect(preview.block.id).toBe(body.block.id);
      expect(preview.recs.items.map((it) => it.id)).toEqual(body.items.map((it) => it.id));
    }
    await clearExperimentRegistry();
    resetExperimentCache();
  });
});
