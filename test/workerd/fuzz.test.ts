/**
 * The standing fuzz suite: fast-check generates requests for every route (methods, paths, hostile headers
 * and query strings, hostile JSON bodies, valid, expired, forged, truncated and tampered tokens, good and
 * hostile API keys) and each answer is checked against the route's contract (fuzz/contract.ts), with the
 * model seeded so personalized paths run too. Seeded: `npm test` runs 10,000 requests with a fixed seed;
 * `npm run fuzz -- --runs 200000 --seed <n>` runs more (settings come in through vitest.fuzz.config.ts).
 */
import { env } from "cloudflare:test";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Catalog } from "../../core/catalog";
import { parseProfile } from "../../core/profile";
import {
  adminEventsRequest,
  ampPreferencesRequest,
  ampRecsRequest,
  CATALOG_ITEMS,
  campaignsRequest,
  clickRequest,
  eventsRequest,
  imageRequest,
  otherRequest,
  PROFILE_USERS,
  pixelRequest,
  type RequestSpec,
  type RouteName,
  sendTimeRequest,
  usersRequest,
} from "./fuzz/arbitraries";
import { type ContractContext, checkOutcome } from "./fuzz/contract";
import { count, type FailureRecord, keepFailure, newFigures, summarize } from "./fuzz/figures";
import { ORIGIN, send } from "./fuzz/send";
import { DEFAULT_RUNS, DEFAULT_SEED } from "./fuzz/settings";
import { fixture, retailFixture, seedModel } from "./support/harness";

const given = inject("fuzz") ?? {};
const RUNS = given.runs ?? DEFAULT_RUNS;
const SEED = given.seed ?? DEFAULT_SEED;
const MODE = given.mode ?? "assert";
const ONLY = given.routes ? new Set(given.routes.split(",")) : null;

/** Share of the runs per route: an image costs ~35 ms (a drawing per request), the other routes 1-5 ms. */
const ROUTES: [RouteName, number, fc.Arbitrary<RequestSpec>][] = [
  ["campaigns", 0.06, campaignsRequest],
  ["amp-recs", 0.13, ampRecsRequest],
  ["amp-preferences", 0.08, ampPreferencesRequest],
  ["image", 0.03, imageRequest],
  ["click", 0.12, clickRequest],
  ["pixel", 0.1, pixelRequest],
  ["events", 0.16, eventsRequest],
  ["admin-events", 0.06, adminEventsRequest],
  ["users", 0.1, usersRequest],
  ["other", 0.1, otherRequest],
  ["send-time", 0.06, sendTimeRequest],
];
const runsOf = (share: number) => Math.max(1, Math.ceil(RUNS * share));

const figures = newFigures(SEED, MODE);
let probes = 0;
const ctx: ContractContext = {
  allowedOrigins: new Set([ORIGIN]),
  async queueDown() {
    try {
      const probe = { id: `fuzz-probe-${probes++}`, type: "email_open" as const, user: "fuzz-probe", ts: 0 };
      await env.EVENTS?.send(probe, { contentType: "json" });
      return false;
    } catch {
      figures.queueRefused++;
      return true;
    }
  },
};

function report(route: RouteName, failures: FailureRecord[]): string {
  return failures
    .filter((f) => f.route === route)
    .map((f) => `  ${f.rule} (status ${f.status}): ${f.detail}\n    request: ${f.request}`)
    .join("\n");
}

async function fuzzRoute(route: RouteName, share: number, arb: fc.Arbitrary<RequestSpec>): Promise<void> {
  const numRuns = runsOf(share);
  const started = Date.now();
  let last: string[] = [];
  const property = fc.asyncProperty(arb, async (spec) => {
    const out = await send(spec);
    if (!out) {
      figures.unbuildable++;
      return true;
    }
    count(figures, out);
    const problems = await checkOutcome(out, ctx);
    for (const p of problems) keepFailure(figures, out, p);
    if (problems.length > 0 && MODE === "assert") {
      last = problems.map((p) => `${p.rule}: ${p.detail}`);
      throw new Error(last.join("; "));
    }
    return true;
  });
  const details = await fc.check(property, { numRuns, seed: SEED, endOnFailure: false });
  const r = figures.routes[route];
  if (r) r.ms += Date.now() - started;
  figures.ms += Date.now() - started;
  if (details.failed) {
    throw new Error(
      `${route}: the contract broke (seed ${SEED}, path "${details.counterexamplePath}", ${details.numShrinks} shrinks; ` +
        `replay: npm run fuzz -- --seed ${SEED} --routes ${route})\n  ${last.join("\n  ") || String(details.errorInstance)}\n` +
        `  minimal request: ${summarize(details.counterexample?.[0])}`,
    );
  }
  const kept = figures.failures.filter((f) => f.route === route);
  expect(kept, `${route} (seed ${SEED}):\n${report(route, figures.failures)}`).toEqual([]);
}

describe("fuzz: every route keeps its contract under generated hostile input", () => {
  beforeAll(async () => {
    await seedModel();
    const f = fixture();
    PROFILE_USERS.splice(0, PROFILE_USERS.length, ...f.profiles.map((p) => p.userId));
    const catalog = JSON.parse(f.catalogJson) as Catalog;
    CATALOG_ITEMS.splice(0, CATALOG_ITEMS.length, ...catalog.items.map((it) => it.id));
    for (const it of catalog.items) ctx.allowedOrigins.add(new URL(it.url, ORIGIN).origin);
  });

  afterAll(() => {
    if (given.figures) console.log(`FUZZ_FIGURES ${JSON.stringify(figures)}`);
  });

  for (const [route, share, arb] of ROUTES) {
    if (ONLY && !ONLY.has(route)) continue;
    it(
      `${route}: ${runsOf(share)} requests`,
      async () => {
        // send time needs a model with a send-time part: the retail fixture's
        if (route === "send-time") await seedModel({ fixture: retailFixture() });
        await fuzzRoute(route, share, arb);
      },
      60_000 + runsOf(share) * 100,
    );
  }

  it("every profile the queue consumer wrote still parses (no Infinity or NaN stored)", async () => {
    // the consumer runs beside the tests: wait until the stored profiles stop changing
    let previous = "";
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const keys = (await env.OPENTIME_KV.list({ prefix: "profile:" })).keys.map((k) => k.name).join("\n");
      if (keys === previous) break;
      previous = keys;
    }
    const broken: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await env.OPENTIME_KV.list({ prefix: "profile:", ...(cursor ? { cursor } : {}) });
      for (const k of page.keys) {
        const raw = await env.OPENTIME_KV.get(k.name, "json");
        const parsed = parseProfile(raw);
        if (!parsed.ok) broken.push(`${k.name.slice(0, 60)}: ${parsed.error.slice(0, 160)}`);
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    expect(broken).toEqual([]);
  }, 60_000);
});
