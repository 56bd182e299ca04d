/**
 * A model load outlives the request that started it (worker/model/model-store.ts, pinned-model.ts): the load is
 * shared by the isolate's requests, but its KV reads are the starting request's, which the runtime cancels once
 * it is answered. So the starter hands the load to its `waitUntil` (here, a route's execution context), a load
 * or check pending past LOAD_STALE_MS is started anew rather than waited on (a cancelled read is simulated by a
 * read that never answers) and never made fresh again, and two pinned versions are each loaded once, not at every
 * open; one that became the active version is released.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import * as ort from "onnxruntime-web/wasm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { base64ToBytes } from "../../core/base64";
import { kvKeys } from "../../core/kv-keys";
import worker from "../../worker/index";
import {
  getModel,
  LOAD_STALE_MS,
  type ModelState,
  RELEASE_GRACE_MS,
  resetModelCache,
  SWITCH_WAIT_MS,
} from "../../worker/model/model-store";
import { pinnedModel } from "../../worker/model/pinned-model";
import { TRIP_AFTER_FAILURES } from "../../worker/model/session-guard";
import { TEST_ADMIN_KEY } from "./fixture";
import { clearKv, fixture, SENDER, seedModel, token } from "./support/harness";

/** Direct calls await what they start: nothing to keep alive. */
const ignore = () => undefined;
const versionOf = (s: ModelState) => (s.ok ? s.model.manifest.version : `none: ${s.reason}`);

async function publish(version: string): Promise<void> {
  const f = fixture();
  await env.OPENTIME_KV.put(kvKeys.manifest(version), JSON.stringify({ ...JSON.parse(f.manifestJson), version }));
  await env.OPENTIME_KV.put(kvKeys.catalog(version), f.catalogJson);
  await env.OPENTIME_KV.put(kvKeys.onnx(version), base64ToBytes(f.onnxBase64));
  if (f.itemTableJson) await env.OPENTIME_KV.put(kvKeys.itemTable(version), f.itemTableJson);
}

const point = (version: string) =>
  env.OPENTIME_KV.put(kvKeys.activeModel, JSON.stringify({ version, activatedAt: new Date().toISOString() }));

/** KV whose reads of `key` go through `read` (the real read is `real()`); every other operation is KV's own. */
function kvWith(key: string, read: (real: () => Promise<unknown>) => Promise<unknown>): KVNamespace {
  return new Proxy(env.OPENTIME_KV, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "get") return typeof value === "function" ? value.bind(target) : value;
      return (k: string, ...rest: unknown[]) => {
        const real = () => (target.get as (...args: unknown[]) => Promise<unknown>)(k, ...rest);
        return k === key ? read(real) : real();
      };
    },
  });
}

const delayed = (ms: number) => (real: () => Promise<unknown>) =>
  new Promise((resolve) => setTimeout(resolve, ms)).then(real);

/** The first read never answers (a cancelled request's I/O); later ones do. */
function stuckOnce(): (real: () => Promise<unknown>) => Promise<unknown> {
  let first = true;
  return (real) => {
    if (!first) return real();
    first = false;
    return new Promise(() => {});
  };
}

describe("a model load outlives the request that started it", () => {
  const a = () => fixture().version;
  const b = () => `${fixture().version}-b`;
  beforeEach(async () => {
    await clearKv();
    await seedModel();
    await publish(b());
  });

  it("the starting request hands the load to its waitUntil, answers with the last good model, and the load ends", async () => {
    const t0 = Date.now();
    expect(versionOf(await getModel(env.OPENTIME_KV, 300, t0, ignore))).toBe(a());
    await point(b());
    const kv = kvWith(kvKeys.catalog(b()), delayed(SWITCH_WAIT_MS + 1500));
    const handed: Promise<unknown>[] = [];
    const starter = await getModel(kv, 300, t0 + 301_000, (p) => handed.push(p));
    expect(versionOf(starter)).toBe(a());
    expect(handed).toHaveLength(1);
    // another request meanwhile shares the load: it hands nothing of its own
    const other: Promise<unknown>[] = [];
    const meanwhile = getModel(kv, 300, t0 + 301_100, (p) => other.push(p));
    expect(other).toHaveLength(0);
    expect(versionOf((await handed[0]) as ModelState)).toBe(b());
    expect(versionOf(await meanwhile)).toMatch(new RegExp(`^(${a()}|${b()})$`));
    expect(versionOf(await getModel(kv, 300, t0 + 303_000, ignore))).toBe(b());
  });

  it("a fresh isolate's fall back to model:history that joins the same version's pending load keeps it as its good model", async () => {
    resetModelCache();
    const history = [{ version: a(), activatedAt: new Date().toISOString() }];
    await env.OPENTIME_KV.put(kvKeys.modelHistory, JSON.stringify(history));
    // the isolate's first request starts loading the active version; its pointer is gone before the load ends: deleted
    // once the load reads its catalog (so after it read the pointer, however long that took), which answers 600 ms on
    let deleted: Promise<void> | undefined;
    const kv = kvWith(kvKeys.catalog(a()), (real) => {
      deleted ??= env.OPENTIME_KV.delete(kvKeys.activeModel);
      return delayed(600)(real);
    });
    const t0 = Date.now();
    const first = getModel(kv, 1, t0, ignore);
    while (deleted === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    await deleted;
    // the next check (a second on) finds no pointer and falls back to the history's version: the same load, pending
    const second = await getModel(kv, 1, t0 + 1500, ignore);
    expect(versionOf(second)).toBe(a());
    expect(versionOf(await first)).toBe(a());
    // kept as the isolate's last good model, not retired as a load the pointer had moved past
    expect(versionOf(await getModel(kv, 1, t0 + 3000, ignore))).toBe(a());
  });

  it("a check pending past LOAD_STALE_MS is not waited on: the next request loads anew", async () => {
    const t0 = Date.now();
    expect(versionOf(await getModel(env.OPENTIME_KV, 300, t0, ignore))).toBe(a());
    await point(b());
    const kv = kvWith(kvKeys.catalog(b()), stuckOnce());
    expect(versionOf(await getModel(kv, 300, t0 + 301_000, ignore))).toBe(a());
    // still inside the refresh window (300 s), but the check is stale
    expect(versionOf(await getModel(kv, 300, t0 + 301_000 + LOAD_STALE_MS + 1, ignore))).toBe(b());
  });

  it("a dead check is not made fresh by a failed pointer read: neither that request nor the next waits on it", async () => {
    resetModelCache(); // a fresh isolate: no good model to fall back on
    const t0 = Date.now();
    void getModel(kvWith(kvKeys.catalog(a()), stuckOnce()), 300, t0, ignore);
    await new Promise((r) => setTimeout(r, 50));
    const failing = kvWith(kvKeys.activeModel, () => Promise.reject(new Error("KV is down")));
    // a guard, not a speed test: a request held on the dead load never answers; a new load may take seconds on a
    // loaded machine
    const within = (p: Promise<ModelState>) =>
      Promise.race([p.then(versionOf), new Promise((r) => setTimeout(() => r("still waiting"), 20_000))]);
    // past LOAD_STALE_MS a KV blip on the pointer: answered (without a model), not held on the dead load
    expect(await within(getModel(failing, 300, t0 + LOAD_STALE_MS + 1, ignore))).toBe("none: kv-error");
    // and the next healthy request, still inside the refresh window, loads anew
    expect(await within(getModel(env.OPENTIME_KV, 300, t0 + LOAD_STALE_MS + 2, ignore))).toBe(a());
  });

  it("the preview's load is kept alive by its execution context too", async () => {
    expect(versionOf(await getModel(env.OPENTIME_KV, 1, Date.now(), ignore))).toBe(a());
    await point(b());
    await new Promise((r) => setTimeout(r, 1100));
    const slow = SWITCH_WAIT_MS + 1500;
    const ctx = createExecutionContext();
    const started = Date.now();
    const user = fixture().profiles[0]?.userId as string;
    const res = await worker.fetch(
      new Request(`http://127.0.0.1:8787/v1/preview/email?user=${user}&campaign=demo`, {
        headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
      }),
      { ...env, OPENTIME_KV: kvWith(kvKeys.catalog(b()), delayed(slow)) },
      ctx,
    );
    expect(res.status).toBe(200);
    await waitOnExecutionContext(ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(slow);
  });

  it("an email route's load is kept alive by its execution context past its response", async () => {
    const user = fixture().profiles[0]?.userId as string;
    expect(versionOf(await getModel(env.OPENTIME_KV, 1, Date.now(), ignore))).toBe(a());
    await point(b());
    await new Promise((r) => setTimeout(r, 1100)); // past the tests' refresh (MODEL_REFRESH_SECONDS 1)
    // the answer waits SWITCH_WAIT_MS for the load, then goes on; a load 5 s slower than that keeps the bound on the
    // answer below wide for a loaded machine (where the answer itself can take seconds), and still fails an answer
    // that waited for the load. (Not slower: the catalog's read has a 10 s deadline, and the load must end well.)
    const slow = SWITCH_WAIT_MS + 5_000;
    const bindings = { ...env, OPENTIME_KV: kvWith(kvKeys.catalog(b()), delayed(slow)) };
    const ctx = createExecutionContext();
    const started = Date.now();
    const res = await worker.fetch(
      new Request(`https://opentime.test/v1/amp/recs?t=${encodeURIComponent(await token(user))}`, {
        headers: { "AMP-Email-Sender": SENDER },
      }),
      bindings,
      ctx,
    );
    expect(res.status).toBe(200);
    const answered = Date.now() - started;
    expect(answered).toBeLessThan(slow);
    // the context lives until the load is done, not just its events' queueing
    await waitOnExecutionContext(ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(slow);
    expect(versionOf(await getModel(env.OPENTIME_KV, 1, Date.now(), ignore))).toBe(b());
  });
});

describe("versions a campaign pins", () => {
  beforeEach(async () => {
    await clearKv();
    await seedModel();
  });
  afterEach(() => vi.restoreAllMocks());

  it("two versions asked for in turn are each loaded once, not at every open", async () => {
    const [b, c] = [`${fixture().version}-b`, `${fixture().version}-c`];
    await publish(b);
    await publish(c);
    let reads = 0;
    const count = (real: () => Promise<unknown>) => {
      reads++;
      return real();
    };
    const kv = kvWith(kvKeys.manifest(b), count);
    const kv2 = new Proxy(kv, {
      get(target, prop) {
        if (prop !== "get") return Reflect.get(target, prop, target);
        return (k: string, ...rest: unknown[]) =>
          k === kvKeys.manifest(c) ? count(() => target.get(k, ...(rest as []))) : target.get(k, ...(rest as []));
      },
    });
    const now = Date.now();
    for (let i = 0; i < 10; i++) {
      const v = i % 2 === 0 ? b : c;
      const s = await pinnedModel(kv2, v, getModel(kv2, 30, now + i, ignore), now + i, ignore);
      expect(versionOf(s)).toBe(v);
    }
    expect(reads).toBe(2);
  });

  it("a pinned version that cannot load serves the active model as it is now, not the one active at its failure", async () => {
    const b = `${fixture().version}-b`;
    await publish(b);
    let now = Date.now();
    const pin = (v: string) => pinnedModel(env.OPENTIME_KV, v, getModel(env.OPENTIME_KV, 1, now, ignore), now, ignore);
    const missing = await pin("never-published");
    expect(missing.ok && missing.rejected?.version).toBe("never-published");
    expect(versionOf(missing)).toBe(fixture().version);
    // the active model moves to b within the minute the failure is remembered
    await point(b);
    now += 5000;
    expect(versionOf(await getModel(env.OPENTIME_KV, 1, now, ignore))).toBe(b);
    now += 1000;
    const again = await pin("never-published");
    expect(versionOf(again)).toBe(b);
    expect(again.ok && again.rejected?.version).toBe("never-published");
  });

  it("a pinned version that became the active one is released: the active model serves it", async () => {
    const [b, c] = [`${fixture().version}-b`, `${fixture().version}-c`];
    await publish(b);
    await publish(c);
    let now = Date.now();
    const pin = (v: string) => pinnedModel(env.OPENTIME_KV, v, getModel(env.OPENTIME_KV, 1, now, ignore), now, ignore);
    const pinnedB = await pin(b);
    await pin(c);
    if (!pinnedB.ok) throw new Error("b did not load");
    await point(b);
    now += 5000;
    const active = await getModel(env.OPENTIME_KV, 1, now, ignore);
    expect(versionOf(active)).toBe(b);
    for (let i = 0; i < 3; i++) {
      now += 1000;
      // the active model itself (each pointer check makes a new state around it)
      const served = await pin(b);
      expect(served.ok && active.ok && served.model === active.model).toBe(true);
      expect(versionOf(await pin(c))).toBe(c);
    }
    await new Promise((r) => setTimeout(r, 50));
    await getModel(env.OPENTIME_KV, 1, Date.now() + RELEASE_GRACE_MS + 5000, ignore);
    expect(pinnedB.model.session.released).toBe(true);
  });

  it("a pinned version whose session tripped is rebuilt, as the active model's is, not served broken for good", async () => {
    const b = `${fixture().version}-b`;
    await publish(b);
    let now = Date.now();
    const pin = () => pinnedModel(env.OPENTIME_KV, b, getModel(env.OPENTIME_KV, 1, now, ignore), now, ignore);
    const first = await pin();
    if (!first.ok || first.model.manifest.version !== b) throw new Error("b did not load");
    const prototype = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
    const run = vi.spyOn(prototype, "run").mockRejectedValue(new Error("wasm abort"));
    const user = new Float32Array(first.model.manifest.dims);
    for (let i = 0; i < TRIP_AFTER_FAILURES; i++) await expect(first.model.session.topK(user, 4)).rejects.toThrow();
    expect(first.model.session.tripped).toBe(true);
    run.mockRestore();
    // a few minutes on: the pinned copy is loaded again, and the tripped one released after the grace period
    now += 5 * 60_000;
    const rebuilt = await pin();
    expect(versionOf(rebuilt)).toBe(b);
    expect(rebuilt.ok && rebuilt.model.session.tripped).toBe(false);
    expect(rebuilt.ok && (await rebuilt.model.session.topK(user, 4)).indices).toHaveLength(4);
    await new Promise((r) => setTimeout(r, 50));
    await getModel(env.OPENTIME_KV, 1, now + RELEASE_GRACE_MS + 5000, ignore);
    expect(first.model.session.released).toBe(true);
  });

  it("hands its load to the starting request's waitUntil; one pending past LOAD_STALE_MS is loaded anew", async () => {
    const b = `${fixture().version}-pinned`;
    await publish(b);
    const kv = kvWith(kvKeys.manifest(b), stuckOnce());
    const now = Date.now();
    const handed: Promise<unknown>[] = [];
    void pinnedModel(kv, b, getModel(kv, 300, now, ignore), now, (p) => handed.push(p));
    await new Promise((r) => setTimeout(r, 50));
    expect(handed).toHaveLength(1);
    const later = now + LOAD_STALE_MS + 1;
    const second = pinnedModel(kv, b, getModel(kv, 300, later, ignore), later, ignore).then(versionOf);
    // a guard (the stuck load never settles), far past a load's seconds on a loaded machine
    const waited = new Promise((resolve) => setTimeout(() => resolve("still waiting"), 20_000));
    expect(await Promise.race([second, waited])).toBe(b);
  });
});
