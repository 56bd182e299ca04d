/**
 * The gates in front of the staff pages. The dashboard (GET /dashboard: experiment results, model health) is
 * always served, behind the admin key or a Cloudflare Access identity (open on a loopback host under
 * DEMO_ROUTES). The preview (GET / and /v1/preview/*), which lists user ids and mints 7-day tokens for any of
 * them with the production TOKEN_SECRET:
 *   - neither DEMO_ROUTES nor PREVIEW_PAGE is "true" (what `wrangler deploy` ships): 404, as if absent;
 *   - DEMO_ROUTES="true" (`.dev.vars`: `npm start`, `npm run dev`) on a loopback host: open, no key;
 *   - otherwise (PREVIEW_PAGE="true" in production, or DEMO_ROUTES reached on a public host):
 *     `Authorization: Bearer <admin key>` (ADMIN_API_KEYS), or a Cloudflare Access identity.
 * The Access identity is the `Cf-Access-Jwt-Assertion` header that Access adds in front of the Worker.
 * Anyone can send that header, so it is never trusted for being present: it counts only when
 * ACCESS_TEAM_DOMAIN and ACCESS_AUD are configured and the JWT verifies (RS256 signature against the team's
 * keys at https://<team>.cloudflareaccess.com/cdn-cgi/access/certs, issuer, audience, an expiry it must have and
 * that is not past; the keys cached 300 s, fetched again past the cache for a key id they lack, as after Access
 * rotates them; each fetch given 2 s, so a certs endpoint that hangs costs a staff request 2 s, or 4 s for a key id
 * the held keys lack, which also fetches past the cache, not the request).
 * Loopback and Access both let a browser in on what it carries by itself (the Access cookie), so a write
 * (any method but GET, HEAD, OPTIONS) whose `Origin` is another site's is refused (403 ORIGIN_NOT_ALLOWED):
 * another page cannot post the preview's reset or editor with a staff member's session. A client without an
 * `Origin` (curl with the admin key) is not a browser posting across sites.
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { decode, verifyWithJwks } from "hono/jwt";
import { isLoopbackHost } from "../../core/web-url";
import { type AppEnv, type Config, getConfig } from "../env";
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { logEvent } from "../lib/log";
import { within } from "../lib/within";

const ACCESS_HEADER = "Cf-Access-Jwt-Assertion";
/** Access's keys change rarely; Cloudflare's cache keeps them this long */
const CERTS_CACHE_SECONDS = 300;
/**
 * A JWT whose key id the cached keys lack (Access rotated its keys) has them fetched past the cache, at most this
 * often per isolate: staff are let in at once after a rotation, and JWTs with made-up key ids cost one fetch a
 * minute at most.
 */
export const FRESH_CERTS_MIN_MS = 60_000;
/**
 * How long a fetch of the keys may take: a certs endpoint that hangs would otherwise hang every staff request that
 * carries an Access JWT, those that also carry the admin key included (the key is checked after the JWT).
 */
export const CERTS_TIMEOUT_MS = 2_000;

const adminKey = requireApiKey((config) => config.adminApiKeys, "admin");

/** Keys fetched past the cache for an unknown key id: served beside the cached ones as long as those may lag. */
let fresh: { url: string; keys: JsonWebKey[]; at: number } | null = null;
/**
 * The last ask for keys past the cache: set before the fetch is awaited, so the JWTs with unknown key ids that come
 * while it is in flight ask for none of their own (the minute holds for requests at once too) and wait for its keys
 * instead (staff's requests at once after a rotation are all let in), JOIN_WAIT_MS at most: the fetch belongs to the
 * request that made it, and never settles if that request is cancelled.
 */
let askedPastCache: { url: string; at: number; keys: Promise<JsonWebKey[]> } | null = null;
/** How long a request waits for another's fetch of the keys past the cache. */
const JOIN_WAIT_MS = 1_500;

/** For tests: forget the keys fetched past the cache. */
export function resetAccessKeys(): void {
  fresh = null;
  askedPastCache = null;
}

/** The team's signing keys from `url` (its certs endpoint), from Cloudflare's cache or past it. */
async function accessKeys(url: string, pastCache: boolean): Promise<JsonWebKey[]> {
  const signal = AbortSignal.timeout(CERTS_TIMEOUT_MS);
  const res = await fetch(
    url,
    // (`cache` is in the runtime since compatibility date 2024-11-11, not in these types)
    pastCache
      ? ({ cache: "no-store", signal } as RequestInit)
      : { cf: { cacheTtl: CERTS_CACHE_SECONDS, cacheEverything: true }, signal },
  );
  if (!res.ok) throw new Error(`the Access certs answered ${res.status}`);
  const { keys } = (await res.json()) as { keys?: unknown };
  if (!Array.isArray(keys)) throw new Error("the Access certs hold no keys");
  return keys as JsonWebKey[];
}

/** True when the request carries a Cloudflare Access JWT that verifies for the configured application. */
async function accessIdentity(c: Context<AppEnv>, access: Config["access"]): Promise<boolean> {
  const jwt = c.req.header(ACCESS_HEADER);
  if (!jwt || !access) return false;
  const issuer = `https://${access.teamDomain}`;
  const url = `${issuer}/cdn-cgi/access/certs`;
  try {
    const { kid } = decode(jwt).header as { kid?: unknown };
    const now = Date.now();
    const held = fresh?.url === url && now - fresh.at < CERTS_CACHE_SECONDS * 1000 ? fresh.keys : [];
    // the keys held from a fetch past the cache still verify while the cached read fails (a rotation's new key)
    const cached = await accessKeys(url, false).catch((e) => {
      if (held.length === 0) throw e;
      return [];
    });
    let keys = [...held, ...cached];
    if (typeof kid === "string" && !keys.some((k) => (k as { kid?: unknown }).kid === kid)) {
      if (askedPastCache?.url !== url || now - askedPastCache.at >= FRESH_CERTS_MIN_MS) {
        askedPastCache = { url, at: now, keys: accessKeys(url, true) };
        fresh = { url, keys: await askedPastCache.keys, at: now };
        keys = [...fresh.keys, ...keys];
      } else {
        // asked for within the minute, maybe still in flight: its keys (none if it failed or is late)
        const asked = askedPastCache.keys.catch((): JsonWebKey[] => []);
        keys = [...(await within(asked, JOIN_WAIT_MS, (): JsonWebKey[] => [])), ...keys];
      }
    }
    const claims = await verifyWithJwks(jwt, {
      keys: keys as Parameters<typeof verifyWithJwks>[1]["keys"],
      allowedAlgorithms: ["RS256"],
      verification: { iss: issuer, aud: access.aud },
    });
    // hono checks `exp` only when the JWT has one: a JWT without it would never expire. Access always sets it, so one
    // without is no Access session's
    if (typeof claims.exp !== "number") throw new TypeError("the JWT has no expiry");
    return true;
  } catch (e) {
    // the error's name only: hono's messages quote the JWT, which holds the person's email
    logEvent("warn", "preview.access_refused", { detail: e instanceof Error ? e.name : "unknown" });
    return false;
  }
}

/**
 * A gate for staff pages: `enabled` false is a 404; then open on a loopback host under DEMO_ROUTES (local
 * development), else a verified Access identity or the admin key.
 */
function staffGate(what: string, enabled: (config: Config) => boolean, disabled: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const config = getConfig(c.env);
    if (!enabled(config)) throw new ApiError("NOT_FOUND", disabled);
    const url = new URL(c.req.url);
    if (config.demoRoutes && isLoopbackHost(url.hostname)) return ownOrigin(c, url, next);
    if (await accessIdentity(c, config.access)) return ownOrigin(c, url, next);
    let admin = false;
    try {
      await adminKey(c, async () => {
        admin = true;
      });
    } catch {
      // the message below names both ways in
    }
    if (!admin) {
      throw new ApiError(
        "UNAUTHORIZED",
        `${what} needs the admin key (Authorization: Bearer <key>) or a Cloudflare Access identity`,
      );
    }
    await ownOrigin(c, url, next);
  });
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** `next()`, unless the request is a write whose `Origin` names another site (or none: `null`). */
function ownOrigin(c: Context<AppEnv>, url: URL, next: () => Promise<void>): Promise<void> {
  const origin = c.req.header("Origin");
  if (!SAFE_METHODS.has(c.req.method) && origin !== undefined && origin !== url.origin)
    throw new ApiError("ORIGIN_NOT_ALLOWED", "a staff page's writes come from its own pages only");
  return next();
}

export const previewAccess = staffGate(
  "the preview",
  (config) => config.previewPage,
  "the preview page is disabled (PREVIEW_PAGE)",
);

/** The dashboard (worker/dashboard/): always on, and always behind the admin key or Access (open on loopback in dev). */
export const dashboardAccess = staffGate("the dashboard", () => true, "");

/**
 * The dashboard's buttons (model and experiment moves, after dashboardAccess): forms its own pages post, and nothing
 * else. Stricter than the gate's own check: a post without an Origin is refused too (those moves have the admin API).
 */
export const dashboardFormOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.header("Origin") !== new URL(c.req.url).origin)
    throw new ApiError("ORIGIN_NOT_ALLOWED", "only the dashboard's own form");
  await next();
});
