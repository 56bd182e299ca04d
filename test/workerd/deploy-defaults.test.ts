/**
 * What a plain `wrangler deploy` answers before any secret is put: wrangler.toml's vars, no TOKEN_SECRET, no API
 * keys, no webhook secret. Every route the app registers is asked (read from the app itself, so a route added
 * later is asked too): only the email-facing routes, health and the OpenAPI document answer; every other one is a
 * 401 UNAUTHORIZED (a key is needed and none is configured) or a 404 NOT_FOUND (the preview and the demo shop,
 * which do not ship), never a 2xx, a redirect or a 500. Then the keys, once set: several (rotation), each only
 * for its own API, a short one never.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, inject, it, vi } from "vitest";
import { mintToken } from "../../core/token";
import { createApp } from "../../worker/app";
import worker from "../../worker/index";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY } from "./fixture";

type Bindings = typeof env;

/** wrangler.toml's vars, and none of the secrets or local settings the tests bind. */
function plainDeploy(extra: Record<string, unknown> = {}): Bindings {
  const bindings: Record<string, unknown> = { ...env, ...inject("deployedVars") };
  for (const name of [
    "TOKEN_SECRET",
    "TOKEN_SECRET_PREVIOUS",
    "EVENTS_API_KEYS",
    "ADMIN_API_KEYS",
    "TRIGGER_WEBHOOK_SECRET",
    "DEMO_ROUTES",
    "PREVIEW_PAGE",
  ])
    delete bindings[name];
  return { ...bindings, ...extra } as unknown as Bindings;
}

async function request(
  bindings: Bindings,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const body = ["POST", "PUT", "PATCH"].includes(method) ? "{}" : undefined;
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`https://opentime.shop.example${path}`, {
      method,
      body,
      headers: { ...(body && { "Content-Type": "application/json" }), ...headers },
    }),
    bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

/** The routes that answer without a key, by design, and what they answer with no secret set. */
const OPEN: Record<string, number> = {
  "GET /v1/health": 200,
  "GET /openapi.json": 200,
  // email-facing: a token (refused: no TOKEN_SECRET) and AMP's CORS (this request is not an AMP one)
  "GET /v1/amp/recs": 403,
  "POST /v1/amp/preferences": 403,
  // the unsubscribe link's page and one-click POST: the link's token refused (no TOKEN_SECRET)
  "GET /v1/unsubscribe": 401,
  "POST /v1/unsubscribe": 401,
  // email-facing: never an error, the fallback picture, the shop's home, the transparent GIF
  "GET /v1/img/*": 200,
  "GET /v1/c/*": 302,
  "GET /v1/e/*": 200,
};

/** Every route the app registers (middleware, `ALL`, left out), once, with its parameters filled in. */
function registeredRoutes(): { route: string; method: string; path: string }[] {
  const seen = new Set<string>();
  const out: { route: string; method: string; path: string }[] = [];
  for (const r of createApp().routes) {
    const route = `${r.method} ${r.path}`;
    if (r.method === "ALL" || seen.has(route)) continue;
    seen.add(route);
    out.push({ route, method: r.method, path: r.path.replace(/:[a-z]+/gi, "x").replace(/\*$/, "x/0") });
  }
  return out;
}

describe("a plain `wrangler deploy`: no secret set", () => {
  it("every route but the email's, health and the OpenAPI document refuses: 401 or 404, never 2xx, 3xx or 5xx", async () => {
    const routes = registeredRoutes();
    expect(routes.length).toBeGreaterThan(40);
    // the open list names routes that exist: a renamed one is noticed here, not silently left unchecked
    for (const route of Object.keys(OPEN)) expect(routes.map((r) => r.route)).toContain(route);
    for (const { route, method, path } of routes) {
      // with no key, and with a key that would be a valid one had it been configured
      const none: Record<string, string> = {};
      for (const headers of [none, { Authorization: `Bearer ${TEST_ADMIN_KEY}` }]) {
        const res = await request(plainDeploy(), method, path, headers);
        const open = OPEN[route];
        if (open !== undefined) {
          expect(res.status, route).toBe(open);
          continue;
        }
        const body = (await res.json()) as { error?: { code?: string } };
        expect([401, 404], `${route}: ${res.status}`).toContain(res.status);
        expect(body.error?.code, route).toBe(res.status === 401 ? "UNAUTHORIZED" : "NOT_FOUND");
      }
    }
  });
});

describe("API keys once set", () => {
  const admin = (key: string) => ({ Authorization: `Bearer ${key}` });
  const second = "admin-key-rotated-in-0123456789";

  it("several admin keys (rotation) each open the admin API; a key under 16 characters never does", async () => {
    const bindings = plainDeploy({ ADMIN_API_KEYS: `short-key, ${TEST_ADMIN_KEY} ,${second}` });
    expect((await request(bindings, "GET", "/v1/admin/holdout", admin(TEST_ADMIN_KEY))).status).toBe(200);
    expect((await request(bindings, "GET", "/v1/admin/holdout", admin(second))).status).toBe(200);
    for (const key of ["short-key", `${second}x`, second.slice(0, -1), ""]) {
      const res = await request(bindings, "GET", "/v1/admin/holdout", admin(key));
      expect(res.status, key).toBe(401);
    }
  });

  it("each key opens its own API only, and only as a Bearer header", async () => {
    const bindings = plainDeploy({ ADMIN_API_KEYS: TEST_ADMIN_KEY, EVENTS_API_KEYS: TEST_EVENTS_KEY });
    expect((await request(bindings, "POST", "/v1/events", admin(TEST_ADMIN_KEY))).status).toBe(401);
    expect((await request(bindings, "GET", "/v1/admin/holdout", admin(TEST_EVENTS_KEY))).status).toBe(401);
    // the events key opens the events API (an empty batch is a 400, past the key)
    expect((await request(bindings, "POST", "/v1/events", admin(TEST_EVENTS_KEY))).status).toBe(400);
    // never from the query string, nor as a bare header without its scheme
    expect((await request(bindings, "GET", `/v1/admin/holdout?key=${TEST_ADMIN_KEY}`)).status).toBe(401);
    expect((await request(bindings, "GET", "/v1/admin/holdout", { Authorization: TEST_ADMIN_KEY })).status).toBe(401);
  });

  it("the scheme's name in any case (RFC 9110), and no other scheme", async () => {
    const bindings = plainDeploy({ ADMIN_API_KEYS: TEST_ADMIN_KEY });
    for (const scheme of ["bearer", "BEARER", "Bearer\t"]) {
      const res = await request(bindings, "GET", "/v1/admin/holdout", {
        Authorization: `${scheme}${scheme.endsWith("\t") ? "" : " "}${TEST_ADMIN_KEY}`,
      });
      expect(res.status, scheme).toBe(200);
    }
    for (const header of [`Basic ${TEST_ADMIN_KEY}`, `Bearer${TEST_ADMIN_KEY}`, `Bearerx ${TEST_ADMIN_KEY}`]) {
      expect((await request(bindings, "GET", "/v1/admin/holdout", { Authorization: header })).status, header).toBe(401);
    }
  });

  it("the .dev.vars.example placeholders copied into secrets open nothing, and are named (never their value)", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const bindings = plainDeploy({
        ADMIN_API_KEYS: `replace-with-another-long-random-key,${TEST_ADMIN_KEY}`,
        EVENTS_API_KEYS: "replace-with-a-long-random-key",
        TOKEN_SECRET: "replace-with-a-long-random-string",
        TRIGGER_WEBHOOK_SECRET: "replace-with-a-third-long-random-string",
      });
      const placeholder = { Authorization: "Bearer replace-with-another-long-random-key" };
      expect((await request(bindings, "GET", "/v1/admin/holdout", placeholder)).status).toBe(401);
      const events = { Authorization: "Bearer replace-with-a-long-random-key" };
      expect((await request(bindings, "POST", "/v1/events", events)).status).toBe(401);
      const health = await request(bindings, "GET", "/v1/health", admin(TEST_ADMIN_KEY));
      const { config } = (await health.json()) as { config: string[] };
      expect(config).toEqual(expect.arrayContaining(["token_secret_missing", "secret_placeholder"]));
      const logged = errors.mock.calls.map((c) => String(c[0])).join("\n");
      expect(logged).toContain("TOKEN_SECRET, TRIGGER_WEBHOOK_SECRET, EVENTS_API_KEYS, ADMIN_API_KEYS");
      expect(logged).not.toContain("replace-with-");
    } finally {
      errors.mockRestore();
    }
  });

  it("a key under 16 characters is logged by the variable's name and how many, never the key", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const bindings = plainDeploy({ ADMIN_API_KEYS: `short-key-1,${TEST_ADMIN_KEY},tiny` });
      expect((await request(bindings, "GET", "/v1/admin/holdout", admin(TEST_ADMIN_KEY))).status).toBe(200);
      const logged = errors.mock.calls.map((c) => String(c[0]));
      const line = logged.find((l) => l.includes("config.api_key_short"));
      expect(line).toContain("ADMIN_API_KEYS: 2 key(s)");
      expect(logged.join("\n")).not.toContain("short-key-1");
      expect(logged.join("\n")).not.toContain("tiny");
    } finally {
      errors.mockRestore();
    }
  });
});

describe("health says what the configuration lacks, to the admin key", () => {
  const ADMIN = { Authorization: `Bearer ${TEST_ADMIN_KEY}` };
  const health = async (bindings: Bindings, headers: Record<string, string> = ADMIN) =>
    ((await (await request(bindings, "GET", "/v1/health", headers)).json()) as { config: string[] | null }).config;

  it("a plain deploy: no token secret, no shop origin; then each set, and a short one named", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const warns = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      // wrangler.toml's senders are examples (`.example` domains): no mail provider sends from them
      expect(await health(plainDeploy({ ADMIN_API_KEYS: TEST_ADMIN_KEY }))).toEqual([
        "token_secret_missing",
        "allowed_senders_example",
        "shop_url_unset",
      ]);
      const configured = {
        TOKEN_SECRET: "the-current-token-secret-0123456789",
        SHOP_URL: "https://shop.example/",
        AMP_ALLOWED_SENDERS: "newsletter@shop.com,*@mail.shop.com",
        ADMIN_API_KEYS: TEST_ADMIN_KEY,
      };
      expect(await health(plainDeploy(configured))).toEqual([]);
      expect(
        await health(
          plainDeploy({
            ...configured,
            TRIGGER_WEBHOOK_SECRET: "changeme",
            EVENTS_API_KEYS: "tiny",
            SHOP_CURRENCY: "£",
          }),
        ),
      ).toEqual(["webhook_secret_short", "api_key_short", "shop_currency_invalid"]);
      // a base for catalog paths that is not an http(s) URL is ignored, and said
      expect(await health(plainDeploy({ ...configured, PUBLIC_BASE_URL: "go.shop.example" }))).toEqual([
        "public_base_url_invalid",
      ]);
      expect(await health(plainDeploy({ ...configured, PUBLIC_BASE_URL: "https://go.shop.example" }))).toEqual([]);
      // a home that is not an http(s) URL is none; local development's open preview needs none
      expect(await health(plainDeploy({ ...configured, SHOP_URL: "shop.example" }))).toEqual(["shop_url_unset"]);
      expect(await health(plainDeploy({ ...configured, SHOP_URL: undefined, DEMO_ROUTES: "true" }))).toEqual([]);
      // one real sender is enough (an example one beside it is harmless); local development uses the examples
      for (const senders of ["news@shop.com,*@opentime.example", "*", ["*@shop.example", "*@shop.com"]])
        expect(await health(plainDeploy({ ...configured, AMP_ALLOWED_SENDERS: senders })), String(senders)).toEqual([]);
      for (const senders of ["*@Opentime.EXAMPLE", ["newsletter@shop.example", "*@example"]])
        expect(await health(plainDeploy({ ...configured, AMP_ALLOWED_SENDERS: senders })), String(senders)).toEqual([
          "allowed_senders_example",
        ]);
      expect(
        await health(
          plainDeploy({ ...configured, AMP_ALLOWED_SENDERS: "newsletter@shop.example", DEMO_ROUTES: "true" }),
        ),
      ).toEqual([]);
      // names only: no value of any setting
      const body = await (
        await request(plainDeploy({ ...configured, EVENTS_API_KEYS: "tiny" }), "GET", "/v1/health", ADMIN)
      ).text();
      expect(body).not.toContain("tiny");
      expect(body).not.toContain(configured.TOKEN_SECRET);
      const logged = warns.mock.calls.map((c) => String(c[0])).join("\n");
      expect(logged).toContain("config.shop_url_unset");
      expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toContain("config.allowed_senders_example");
    } finally {
      errors.mockRestore();
      warns.mockRestore();
    }
  });

  it("a problem is logged once, whichever routes its requests reach (each kind of handler has its own copy of the bindings)", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const bindings = plainDeploy();
      // an email route's request, then an API route's, in turn: as a deployed Worker's traffic mixes them
      for (let i = 0; i < 3; i++) {
        expect((await request(bindings, "GET", "/v1/e/x")).status).toBe(200);
        expect((await request(bindings, "GET", "/v1/health")).status).toBe(200);
      }
      const logged = errors.mock.calls.map((c) => String(c[0]));
      expect(logged.filter((l) => l.includes('"config.token_secret_missing"'))).toHaveLength(1);
      expect(logged.filter((l) => l.includes('"config.allowed_senders_example"'))).toHaveLength(1);
    } finally {
      errors.mockRestore();
    }
  });

  it("an erasure tombstone no longer than an email's token lives by default (30 days) is named, for the email tokens (the unsubscribe link needs none)", async () => {
    const warns = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const configured = {
        TOKEN_SECRET: "the-current-token-secret-0123456789",
        SHOP_URL: "https://shop.example/",
        AMP_ALLOWED_SENDERS: "newsletter@shop.com",
        ADMIN_API_KEYS: TEST_ADMIN_KEY,
      };
      expect(await health(plainDeploy({ ...configured, ERASURE_TOMBSTONE_DAYS: "14" }))).toEqual([
        "erasure_tombstone_short",
      ]);
      expect(await health(plainDeploy({ ...configured, ERASURE_TOMBSTONE_DAYS: "30" }))).toEqual([
        "erasure_tombstone_short",
      ]);
      expect(await health(plainDeploy({ ...configured, ERASURE_TOMBSTONE_DAYS: "31" }))).toEqual([]);
      const logged = warns.mock.calls.map((c) => String(c[0])).join("\n");
      expect(logged).toContain("config.erasure_tombstone_short");
      // what still needs the tombstone long: the email tokens the CLIs and triggers mint, not the unsubscribe link
      expect(logged).toContain("--ttl-days");
      expect(logged).toContain("tokenTtlDays");
      expect(logged).not.toContain("unsubscribe");
    } finally {
      warns.mockRestore();
    }
  });

  it("to anyone else, none of it: which secrets are missing or short is the operator's to know", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const warns = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const lacking = plainDeploy({
        ADMIN_API_KEYS: TEST_ADMIN_KEY,
        EVENTS_API_KEYS: `${TEST_EVENTS_KEY},tiny`,
        TRIGGER_WEBHOOK_SECRET: "changeme",
      });
      expect(await health(lacking, ADMIN)).toEqual(
        expect.arrayContaining(["token_secret_missing", "api_key_short", "webhook_secret_short"]),
      );
      // no key, another API's key, a wrong one, or a deploy with no admin key at all: still a 200, no problems named
      for (const [bindings, headers] of [
        [lacking, {}],
        [lacking, { Authorization: `Bearer ${TEST_EVENTS_KEY}` }],
        [lacking, { Authorization: "Bearer not-the-admin-key-0123456789" }],
        [plainDeploy(), ADMIN],
      ] as const) {
        const res = await request(bindings, "GET", "/v1/health", headers);
        expect(res.status).toBe(200);
        const body = await res.text();
        expect(JSON.parse(body)).toMatchObject({ ok: true, config: null });
        for (const problem of [
          "token_secret",
          "allowed_senders",
          "api_key",
          "webhook_secret",
          "shop_url",
          "public_base",
        ])
          expect(body).not.toContain(problem);
      }
    } finally {
      errors.mockRestore();
      warns.mockRestore();
    }
  });
});

describe("the shop's home", () => {
  const secret = "the-current-token-secret-0123456789";
  const click = async (bindings: Bindings, path: string) => {
    const res = await request(bindings, "GET", path);
    return [res.status, res.headers.get("Location"), res.headers.get("X-Opentime-Reason")];
  };

  it("a click with nothing else to go to lands on SHOP_URL, not this Worker's root", async () => {
    const warns = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const t = await mintToken(secret, { user: "u-home", campaign: "no-such-campaign", ttlSeconds: 3600 });
      const home = { TOKEN_SECRET: secret, SHOP_URL: "https://shop.example/welcome" };
      expect(await click(plainDeploy(home), `/v1/c/${t}/nope`)).toEqual([302, home.SHOP_URL, "bad-slot"]);
      expect(await click(plainDeploy(home), "/v1/c/not-a-token/row-0")).toEqual([
        302,
        home.SHOP_URL,
        expect.stringMatching(/^token-/),
      ]);
      // without it, the root of PUBLIC_BASE_URL, else of the request's origin, as before
      const base = { TOKEN_SECRET: secret, PUBLIC_BASE_URL: "https://go.shop.example" };
      expect(await click(plainDeploy(base), `/v1/c/${t}/nope`)).toEqual([302, "https://go.shop.example/", "bad-slot"]);
      expect(await click(plainDeploy({ TOKEN_SECRET: secret }), `/v1/c/${t}/nope`)).toEqual([
        302,
        "https://opentime.shop.example/",
        "bad-slot",
      ]);
    } finally {
      warns.mockRestore();
    }
  });
});

describe("the token secret", () => {
  it("TOKEN_SECRET_PREVIOUS alone accepts no token (it only verifies beside a current secret)", async () => {
    const previous = "the-previous-token-secret-0123456789";
    const t = await mintToken(previous, { user: "u-prev-only", campaign: "demo", ttlSeconds: 3600 });
    const alone = await request(plainDeploy({ TOKEN_SECRET_PREVIOUS: previous }), "GET", `/v1/img/${t}/row-0.png`);
    expect(alone.status).toBe(200);
    expect(alone.headers.get("X-Opentime-Reason")).toMatch(/^token-/);
    // beside a current secret it still verifies (rotation)
    const beside = await request(
      plainDeploy({ TOKEN_SECRET: "the-current-token-secret-0123456789", TOKEN_SECRET_PREVIOUS: previous }),
      "GET",
      `/v1/img/${t}/row-0.png`,
    );
    expect(beside.headers.get("X-Opentime-Reason")).not.toMatch(/^token-/);
  });
});
