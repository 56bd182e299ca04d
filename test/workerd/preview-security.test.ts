/**
 * The preview (GET /, /v1/preview/*) lists user ids and mints tokens; the demo shop (/demo/*) is for local
 * development. What `wrangler deploy` ships (wrangler.toml's vars, read by wrangler) has neither; a shop that
 * sets PREVIEW_PAGE=true gets it only with the admin key or a verified Cloudflare Access identity; local
 * development (DEMO_ROUTES=true from .dev.vars, on 127.0.0.1) keeps it open. The staff pages (the preview page,
 * the dashboard) are never framed by another site.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { sign } from "hono/jwt";
import { afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { mintToken } from "../../core/token";
import worker from "../../worker/index";
import { withoutFraming } from "../../worker/lib/no-framing";
import { scriptHash, staffPagePolicy } from "../../worker/lib/staff-page-policy";
import { resetAccessKeys } from "../../worker/preview/access";
import { PREVIEW_SCRIPT } from "../../worker/preview/preview-page";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY, TEST_TOKEN_SECRET } from "./fixture";
import { clearKv, fixture, SENDER, seedModel, token } from "./support/harness";

declare module "vitest" {
  interface ProvidedContext {
    deployedVars: Record<string, unknown>;
  }
}

type Bindings = typeof env;
const LOCAL = "http://127.0.0.1:8787";
const PUBLIC = "https://opentime.shop.example";

/** wrangler.toml's vars over the test bindings: DEMO_ROUTES and PREVIEW_PAGE as deployed (the tests' own are dropped). */
function deployed(extra: Partial<Bindings> = {}): Bindings {
  const vars = inject("deployedVars");
  const asString = (v: unknown) => (v === undefined ? undefined : String(v));
  return {
    ...env,
    ...(vars as Partial<Bindings>),
    DEMO_ROUTES: asString(vars.DEMO_ROUTES),
    PREVIEW_PAGE: asString(vars.PREVIEW_PAGE),
    ...extra,
  };
}

async function request(
  bindings: Bindings,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; origin?: string; body?: string } = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const req = new Request(`${opts.origin ?? PUBLIC}${path}`, {
    method: opts.method ?? "GET",
    headers: opts.headers,
    body: opts.body,
  });
  const res = await worker.fetch(req, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function code(res: Response): Promise<string | null> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
  return body?.error?.code ?? null;
}

const user = () => fixture().profiles[0]?.userId as string;
/** an email's token for the decisions route (decisions are kept per send, which the token tells) */
let emailToken = "";
/** the preview's own email's token (`p: 1`): the only one whose decisions the reset forgets */
let previewToken = "";
beforeAll(async () => {
  emailToken = await token(user());
  previewToken = await mintToken(TEST_TOKEN_SECRET, {
    user: user(),
    campaign: "demo",
    ttlSeconds: 3600,
    preview: true,
  });
});
const item = () => (JSON.parse(fixture().catalogJson) as { items: { id: string }[] }).items[0]?.id as string;

/** Every preview route, with a valid query; `email` mints a token (it is the one that matters most). */
const previewRoutes = () => [
  { method: "GET", path: "/" },
  { method: "GET", path: "/v1/preview/users" },
  { method: "GET", path: `/v1/preview/email?user=${user()}&campaign=demo` },
  { method: "GET", path: `/v1/preview/decisions?t=${emailToken}` },
  { method: "POST", path: `/v1/preview/reset?t=${previewToken}` },
  { method: "GET", path: "/v1/preview/blocks?campaign=demo" },
  { method: "GET", path: "/v1/preview/campaigns/demo" },
  // the campaign editor writes: gated like the rest
  {
    method: "PUT",
    path: "/v1/preview/campaigns/demo",
    body: JSON.stringify({ v: 2, default: { id: "picks", type: "recommendations" } }),
  },
];
const demoRoutes = () => [`/demo/img/${item()}.png`, `/demo/img/${item()}.svg`, `/demo/p/${item()}`];
const admin = { Authorization: `Bearer ${TEST_ADMIN_KEY}` };

beforeEach(async () => {
  await clearKv();
  await seedModel();
});

describe("what `wrangler deploy` ships: no preview, no demo shop", () => {
  it("wrangler.toml turns on neither DEMO_ROUTES nor PREVIEW_PAGE", () => {
    const vars = inject("deployedVars");
    expect(vars.DEMO_ROUTES).not.toBe("true");
    expect(vars.PREVIEW_PAGE).not.toBe("true");
  });

  it("GET /, /v1/preview/* and /demo/* are 404, with or without the admin key, on any host", async () => {
    for (const origin of [PUBLIC, LOCAL]) {
      for (const headers of [{}, admin]) {
        for (const r of previewRoutes()) {
          const res = await request(deployed(), r.path, { method: r.method, headers, origin, body: r.body });
          expect(res.status, `${r.method} ${origin}${r.path}`).toBe(404);
          expect(await code(res)).toBe("NOT_FOUND");
        }
        for (const path of demoRoutes()) {
          const res = await request(deployed(), path, { headers, origin });
          expect(res.status, `${origin}${path}`).toBe(404);
          expect(await code(res)).toBe("NOT_FOUND");
        }
      }
    }
    // the gate is the preview's alone: the rest of the API answers as before
    expect((await request(deployed(), "/v1/health")).status).toBe(200);
  });
});

describe("PREVIEW_PAGE=true in production: the admin key or Cloudflare Access", () => {
  const prod = () => deployed({ PREVIEW_PAGE: "true" });

  it("every preview route refuses a request without the admin key (401), whatever else it carries", async () => {
    const attempts: Record<string, string>[] = [
      {},
      { Authorization: `Bearer ${TEST_EVENTS_KEY}` },
      { Authorization: "Bearer not-the-admin-key-0123456789" },
      { Authorization: TEST_ADMIN_KEY },
      // the Access header alone proves nothing: Access is not configured here
      { "Cf-Access-Jwt-Assertion": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln" },
    ];
    for (const headers of attempts) {
      for (const r of previewRoutes()) {
        const res = await request(prod(), r.path, { method: r.method, headers, body: r.body });
        expect(res.status, `${r.method} ${r.path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await code(res)).toBe("UNAUTHORIZED");
      }
    }
    expect(await env.OPENTIME_KV.get(`profile:${user()}`)).not.toBeNull();
  });

  it("with the admin key every preview route answers; the demo shop stays off", async () => {
    for (const r of previewRoutes()) {
      const res = await request(prod(), r.path, { method: r.method, headers: admin, body: r.body });
      expect(res.status, `${r.method} ${r.path}`).toBe(200);
    }
    const users = (await (await request(prod(), "/v1/preview/users", { headers: admin })).json()) as {
      users: string[];
    };
    expect(users.users).toContain(user());
    for (const path of demoRoutes()) expect((await request(prod(), path, { headers: admin })).status).toBe(404);
  });

  it("the preview's email opened again keeps its token (its decisions are that send's); another is a new email", async () => {
    const email = async (query: string) => {
      const res = await request(prod(), `/v1/preview/email?${query}`, { headers: admin });
      expect(res.status).toBe(200);
      return ((await res.json()) as { token: string }).token;
    };
    const first = await email(`user=${user()}&campaign=demo`);
    expect(await email(`user=${user()}&campaign=demo&layout=card&t=${first}`)).toBe(first);
    // another campaign, or a token that does not verify: a fresh one is minted
    expect(await email(`user=${user()}&campaign=demo-live&t=${first}`)).not.toBe(first);
    expect(await email(`user=${user()}&campaign=demo&t=${first}x`)).not.toBe(`${first}x`);
  });

  it("DEMO_ROUTES=true reached on a public host is not local development: the admin key is needed", async () => {
    const leaked = deployed({ DEMO_ROUTES: "true" });
    for (const r of previewRoutes()) {
      const res = await request(leaked, r.path, { method: r.method, body: r.body });
      expect(res.status, `${r.method} ${r.path}`).toBe(401);
    }
    expect((await request(leaked, "/v1/preview/users", { headers: admin })).status).toBe(200);
  });
});

describe("Cloudflare Access identities (Cf-Access-Jwt-Assertion, verified)", () => {
  const TEAM = "opentime-test.cloudflareaccess.com";
  const AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
  const CERTS = `https://${TEAM}/cdn-cgi/access/certs`;
  let signingKey: JsonWebKey & { kid: string; alg: "RS256" };
  let otherKey: JsonWebKey & { kid: string; alg: "RS256" };
  let publicKey: JsonWebKey;
  const certFetches: string[] = [];

  async function rsaKey(kid: string) {
    const pair = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const priv = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
    const pub = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
    return { priv: { ...priv, kid, alg: "RS256" as const }, pub: { ...pub, kid, alg: "RS256" } };
  }

  beforeAll(async () => {
    const a = await rsaKey("access-key-1");
    const b = await rsaKey("access-key-1"); // same kid, another key: a forgery
    signingKey = a.priv;
    otherKey = b.priv;
    publicKey = a.pub;
  });

  /** What the certs endpoint serves now, and what Cloudflare's cache holds of it (served unless asked past it). */
  let served: JsonWebKey[] = [];
  let cached: JsonWebKey[] = [];
  const pastCache: boolean[] = [];
  beforeEach(() => {
    certFetches.length = 0;
    pastCache.length = 0;
    served = [publicKey];
    cached = [publicKey];
    resetAccessKeys();
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.startsWith(`https://${TEAM}/`)) {
        certFetches.push(url);
        const fresh = (init as { cache?: string } | undefined)?.cache === "no-store";
        pastCache.push(fresh);
        return Response.json({ keys: fresh ? served : cached });
      }
      return realFetch(input, init);
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (over: Record<string, unknown> = {}) => ({
    aud: [AUD],
    iss: `https://${TEAM}`,
    email: "editor@shop.example",
    sub: "5f2c1d3e",
    iat: now() - 10,
    exp: now() + 600,
    ...over,
  });
  const withAccess = (extra: Partial<Bindings> = {}) =>
    deployed({ PREVIEW_PAGE: "true", ACCESS_TEAM_DOMAIN: TEAM, ACCESS_AUD: AUD, ...extra });

  it("a JWT Access signed for this application opens every preview route", async () => {
    const jwt = await sign(claims(), signingKey);
    for (const r of previewRoutes()) {
      const res = await request(withAccess(), r.path, {
        method: r.method,
        headers: { "Cf-Access-Jwt-Assertion": jwt },
        body: r.body,
      });
      expect(res.status, `${r.method} ${r.path}`).toBe(200);
    }
    expect(certFetches[0]).toBe(CERTS);
  });

  it("refuses a JWT with another audience, issuer, an expired one, one without expiry, another key's signature, or HS256", async () => {
    const forged = [
      await sign(claims({ aud: ["another-application-aud-0123456789"] }), signingKey),
      await sign(claims({ iss: "https://attacker.cloudflareaccess.com" }), signingKey),
      await sign(claims({ exp: now() - 60, iat: now() - 3600 }), signingKey),
      // no expiry at all: never an Access session's (Access always sets one), and it would never expire
      await sign(claims({ exp: undefined }), signingKey),
      await sign(claims(), otherKey),
      await sign(claims(), "a-shared-secret-the-attacker-chose", "HS256"),
      "not.a.jwt",
    ];
    for (const jwt of forged) {
      const res = await request(withAccess(), "/v1/preview/email?user=" + user(), {
        headers: { "Cf-Access-Jwt-Assertion": jwt },
      });
      expect(res.status, jwt.slice(0, 40)).toBe(401);
      expect(await code(res)).toBe("UNAUTHORIZED");
    }
  });

  it("after Access rotates its keys, a JWT signed with the new key is let in at once, the keys fetched past the cache once a minute at most", async () => {
    const rotated = await rsaKey("access-key-2");
    served = [rotated.pub]; // the endpoint has the new key; Cloudflare's cache still the old one (for up to 300 s)
    const headers = { "Cf-Access-Jwt-Assertion": await sign(claims(), rotated.priv) };
    const res = await request(withAccess(), "/v1/preview/users", { headers });
    expect(res.status).toBe(200);
    expect(pastCache).toEqual([false, true]);
    // the new key is held beside the cached ones: the next staff request needs no fetch past the cache
    expect((await request(withAccess(), "/v1/preview/users", { headers })).status).toBe(200);
    expect(pastCache).toEqual([false, true, false]);
    // a made-up key id within the minute costs no fetch past the cache, and is refused
    const bogus = await rsaKey("made-up");
    const forged = { "Cf-Access-Jwt-Assertion": await sign(claims(), bogus.priv) };
    expect((await request(withAccess(), "/v1/preview/users", { headers: forged })).status).toBe(401);
    expect(pastCache).toEqual([false, true, false, false]);
  });

  it("JWTs with made-up key ids sent at once cost one fetch past the cache, not one each", async () => {
    const forged = await Promise.all(
      ["made-up-1", "made-up-2", "made-up-3", "made-up-4"].map(async (kid) => ({
        "Cf-Access-Jwt-Assertion": await sign(claims(), (await rsaKey(kid)).priv),
      })),
    );
    const answers = await Promise.all(forged.map((headers) => request(withAccess(), "/v1/preview/users", { headers })));
    expect(answers.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    expect(pastCache.filter((past) => past)).toHaveLength(1);
  });

  it("after a rotation, staff requests sent at once with the new key are all let in, on one fetch past the cache", async () => {
    const rotated = await rsaKey("access-key-2");
    served = [rotated.pub];
    const headers = { "Cf-Access-Jwt-Assertion": await sign(claims(), rotated.priv) };
    const answers = await Promise.all([0, 1, 2].map(() => request(withAccess(), "/v1/preview/users", { headers })));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(pastCache.filter((past) => past)).toHaveLength(1);
  });

  it("a valid JWT counts for nothing unless both ACCESS_TEAM_DOMAIN and ACCESS_AUD are set", async () => {
    const jwt = await sign(claims(), signingKey);
    const headers = { "Cf-Access-Jwt-Assertion": jwt };
    for (const bindings of [
      withAccess({ ACCESS_AUD: undefined }),
      withAccess({ ACCESS_TEAM_DOMAIN: undefined }),
      withAccess({ ACCESS_TEAM_DOMAIN: "attacker.example" }),
    ]) {
      expect((await request(bindings, "/v1/preview/users", { headers })).status).toBe(401);
    }
    expect(certFetches).toEqual([]);
  });
});

describe("local development (DEMO_ROUTES=true from .dev.vars, wrangler dev on 127.0.0.1)", () => {
  it("the preview and the demo shop answer without a key", async () => {
    for (const origin of [LOCAL, "http://localhost:8787"]) {
      for (const r of previewRoutes()) {
        const res = await request(env, r.path, { method: r.method, origin, body: r.body });
        expect(res.status, `${r.method} ${origin}${r.path}`).toBe(200);
      }
      for (const path of demoRoutes()) expect((await request(env, path, { origin })).status).toBe(200);
    }
    const page = await request(env, "/", { origin: LOCAL });
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("opentime preview");
    const bad = await request(env, "/v1/preview/email?campaign=demo", { origin: LOCAL });
    expect(bad.status).toBe(400);
    expect(await code(bad)).toBe("BAD_REQUEST");
  });
});

describe("the staff pages are never framed by another site (clickjacking the dashboard's model buttons)", () => {
  it("the dashboard and the preview page forbid framing; the email-facing routes do not", async () => {
    const pages = [
      await request(env, "/dashboard", { headers: admin }),
      await request(env, "/dashboard"),
      await request(deployed({ PREVIEW_PAGE: "true" }), "/", { headers: admin }),
      await request(env, "/", { origin: LOCAL }),
    ];
    expect(pages.map((p) => p.status)).toEqual([200, 401, 200, 200]);
    for (const page of pages) {
      expect(page.headers.get("Content-Security-Policy")).toMatch(/(^|; )frame-ancestors 'none'$/);
      expect(page.headers.get("X-Frame-Options")).toBe("DENY");
    }
    // the pages themselves run no script but the preview's own, by its hash (the 401 is JSON: framing alone)
    const [dashboard, refused, preview, localPreview] = pages.map((p) => p.headers.get("Content-Security-Policy"));
    expect(dashboard).toBe(`${staffPagePolicy()}; frame-ancestors 'none'`);
    expect(dashboard).toContain("script-src 'none'");
    expect(refused).toBe("frame-ancestors 'none'");
    const hash = await scriptHash(PREVIEW_SCRIPT);
    expect(hash).toMatch(/^'sha256-[A-Za-z0-9+/]{43}='$/);
    for (const policy of [preview, localPreview]) {
      expect(policy).toBe(`${staffPagePolicy([hash])}; frame-ancestors 'none'`);
      expect(policy).toContain(`script-src ${hash};`);
    }
    expect(await pages[3]?.text()).toContain(`<script>${PREVIEW_SCRIPT}</script>`);
    // mail clients show these inside their own pages
    const t = await token(user());
    for (const path of [`/v1/img/${t}/card-0.png`, `/v1/amp/recs?t=${t}`, `/v1/e/${t}?type=email_open`]) {
      const res = await request(env, path, { headers: { "AMP-Email-Sender": SENDER } });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("X-Frame-Options"), path).toBeNull();
      expect(res.headers.get("Content-Security-Policy") ?? "", path).not.toContain("frame-ancestors");
    }
  });

  it("frame-ancestors joins a policy the answer already has, replacing any frame-ancestors of its own", () => {
    expect(withoutFraming(null)).toBe("frame-ancestors 'none'");
    expect(withoutFraming("default-src 'self'; img-src *")).toBe(
      "default-src 'self'; img-src *; frame-ancestors 'none'",
    );
    expect(withoutFraming("frame-ancestors *; script-src 'none';")).toBe("script-src 'none'; frame-ancestors 'none'");
  });
});
