/**
 * The dashboard when Workers KV cannot be read, through the real app: on a deploy without the OPENTIME_KV binding
 * the page still shows the experiments the registry holds and says model health cannot be read and why (as it
 * says, without D1, why there are no results), never a JSON error and never a read left rejecting unawaited; when
 * KV fails for a passing reason on the model's keys, the model section says so and the rest of the page shows.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { experimentOn, storeExperiment } from "./support/dashboard-forms";
import { faultyKv } from "./support/faulty-bindings";
import { ADMIN_HEADERS, freshExperimentState, send } from "./support/harness";

const body = experimentOn("dash-nokv");

/** Rejections no one awaited while a test ran (workerd reports them as the platform does). */
let unhandled: unknown[] = [];
const note = (e: PromiseRejectionEvent) => {
  unhandled.push(e.reason);
  // seen here: the test below fails on it, with the reason, instead of the run failing on the runtime's report
  e.preventDefault();
};

beforeEach(async () => {
  await freshExperimentState();
  unhandled = [];
  addEventListener("unhandledrejection", note);
});

afterEach(() => {
  removeEventListener("unhandledrejection", note);
  vi.restoreAllMocks();
});

/** The dashboard at `query` as `bindings` draw it, and every rejection left unawaited meanwhile. */
async function dashboard(query: string, bindings: typeof env) {
  const res = await send(`/dashboard${query}`, { headers: ADMIN_HEADERS }, bindings);
  const text = await res.text();
  // a rejection is reported once the microtasks after it have run: give them a turn of the event loop
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { res, text, unhandled: unhandled.map(String) };
}

describe("the dashboard without the OPENTIME_KV binding", () => {
  const bare = () => ({ ...env, OPENTIME_KV: undefined }) as unknown as typeof env;

  it("shows the registry's experiments and says model health cannot be read, leaving no read unawaited", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await storeExperiment("e-nokv", body());
    for (const query of ["", "?experiment=e-nokv"]) {
      const { res, text, unhandled } = await dashboard(query, bare());
      expect(unhandled, query).toEqual([]);
      expect(res.status, query).toBe(200);
      expect(res.headers.get("Content-Type"), query).toMatch(/^text\/html/);
      expect(text).toContain('data-testid="experiment-id">e-nokv<');
      expect(text).toMatch(/data-testid="model-unavailable">[^<]*OPENTIME_KV/);
      // nothing the page could not read is claimed: no "no model is active", no version list, no model buttons
      expect(text).not.toContain("No model is active");
      expect(text).not.toContain('data-testid="versions"');
      expect(text).not.toContain("/dashboard/models/");
      // the page says first what it cannot read, and offers no button whose change could not reach an open
      expect(text).toMatch(/data-testid="no-kv">[^<]*OPENTIME_KV/);
      expect(text).not.toContain('data-testid="experiment-controls"');
    }
    // an experiment KV alone holds (the global holdout's) is not guessed absent: the one handler's 503, naming it
    const holdout = await dashboard("?experiment=global-holdout", bare());
    expect(holdout.unhandled).toEqual([]);
    expect(holdout.res.status).toBe(503);
    expect(JSON.parse(holdout.text)).toMatchObject({ error: { code: "KV_UNAVAILABLE" } });
    expect(JSON.parse(holdout.text).error.message).toContain("OPENTIME_KV");
  });
});

describe("the dashboard when KV fails on the model's keys", () => {
  it("for a passing reason (KV's rate limit): the page shows, its model section says to reload", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await storeExperiment("e-kv429", body());
    const kv = faultyKv(env.OPENTIME_KV, [{ ops: ["get", "list"], mode: "rate-limited", prefix: "model:" }]);
    const { res, text, unhandled } = await dashboard("?experiment=e-kv429", { ...env, OPENTIME_KV: kv.kv });
    expect(kv.hits).toBeGreaterThan(0);
    expect(unhandled).toEqual([]);
    expect(res.status).toBe(200);
    expect(text).toContain('data-testid="experiment-id">e-kv429<');
    expect(text).toMatch(/data-testid="model-unavailable">[^<]*reload/);
    expect(text).not.toContain("No model is active");
  });

  it("for an error of ours: the one handler's 500 INTERNAL, nothing left unawaited", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const kv = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw", prefix: "model:" }]);
    const { res, text, unhandled } = await dashboard("", { ...env, OPENTIME_KV: kv.kv });
    expect(unhandled).toEqual([]);
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toMatchObject({ error: { code: "INTERNAL" } });
  });
});
