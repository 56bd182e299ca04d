/**
 * Model publication inside workerd: a pointer moved to a version that fails to load never replaces the
 * model an isolate serves (personalization continues on the last good one, a log line says why, the new
 * version is retried and served once fixed); replaced sessions are released once, never under a run; a
 * pointer whose version is not header-safe is refused; an ORT session that throws gives fallbacks, and
 * one that keeps throwing is tripped and rebuilt. Also: unreadable stored send-time hours fall back.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import * as ort from "onnxruntime-web/wasm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { base64ToBytes, bytesToBase64 } from "../../core/base64";
import { kvKeys } from "../../core/kv-keys";
import { featuresOf, type Profile } from "../../core/profile";
import worker from "../../worker/index";
import { getModel, RELEASE_GRACE_MS, resetModelCache } from "../../worker/model/model-store";
import { guardSession, SessionUnavailableError, TRIP_AFTER_FAILURES } from "../../worker/model/session-guard";
import type { ScoringSession } from "../../worker/ort/ort-runtime";
import type { SendTimeResponse } from "../../worker/routes/send-time";
import { TEST_ADMIN_KEY } from "./fixture";
import { call, clearKv, fixture, type RecsBody, retailFixture, SENDER, seedModel, token } from "./support/harness";

const ADMIN = { Authorization: `Bearer ${TEST_ADMIN_KEY}` };

const withFactors = () => fixture().profiles.find((p) => p.factors !== null) as Profile;
const REFRESH = 1; // MODEL_REFRESH_SECONDS in tests
const nextRefresh = () => new Promise((r) => setTimeout(r, REFRESH * 1000 + 100));
/** direct calls await what they start: nothing to keep alive */
const ignore = () => undefined;

async function recs(user: string, n = 6) {
  const res = await call(`/v1/amp/recs?t=${await token(user)}&n=${n}`);
  expect(res.status).toBe(200);
  return {
    ids: ((await res.json()) as RecsBody).items.map((i) => i.id),
    reason: res.headers.get("X-Opentime-Reason"),
    model: res.headers.get("X-Opentime-Model"),
  };
}

/** A second version of the fixture model under another name, with the given ONNX bytes. */
async function publish(version: string, onnx: Uint8Array, users: Profile[] = []): Promise<void> {
  const f = fixture();
  await env.OPENTIME_KV.put(kvKeys.manifest(version), JSON.stringify({ ...JSON.parse(f.manifestJson), version }));
  await env.OPENTIME_KV.put(kvKeys.catalog(version), f.catalogJson);
  await env.OPENTIME_KV.put(kvKeys.onnx(version), onnx);
  if (f.itemTableJson) await env.OPENTIME_KV.put(kvKeys.itemTable(version), f.itemTableJson);
  for (const p of users)
    await env.OPENTIME_KV.put(kvKeys.features(p.userId, version), JSON.stringify(featuresOf(p, version)));
}

const point = (version: string) =>
  env.OPENTIME_KV.put(kvKeys.activeModel, JSON.stringify({ version, activatedAt: new Date().toISOString() }));

function corrupt(): Uint8Array {
  const bytes = base64ToBytes(fixture().onnxBase64);
  bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0xff;
  return bytes;
}

/** Structured log lines written with console.error during `f`. */
async function errorLogs(f: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const spy = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    await f();
    return spy.mock.calls.flatMap(([line]) => {
      try {
        return [JSON.parse(String(line)) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  } finally {
    spy.mockRestore();
  }
}

describe("a bad model publication", () => {
  beforeEach(async () => {
    await clearKv();
    await seedModel();
  });

  it("keeps serving the last good model, says why, retries and serves the new version once it is fixed", async () => {
    const a = fixture().version;
    const b = `${a}-b`;
    const p = withFactors();
    const before = await recs(p.userId);
    expect(before).toMatchObject({ reason: "personalized", model: a });
    const served = await getModel(env.OPENTIME_KV, REFRESH, Date.now(), ignore);
    if (!served.ok) throw new Error("model A does not serve");

    await publish(b, corrupt(), [p]);
    await point(b);
    await nextRefresh();
    let during: Awaited<ReturnType<typeof recs>> | undefined;
    const logs = await errorLogs(async () => {
      during = await recs(p.userId);
    });
    expect(during).toEqual({ ...before, reason: "personalized", model: a });
    expect(logs).toContainEqual(
      expect.objectContaining({ event: "model.load_failed", version: b, reason: "model-corrupt" }),
    );
    expect(logs).toContainEqual(
      expect.objectContaining({ event: "model.kept_last_good", version: a, rejected: b, reason: "model-corrupt" }),
    );
    const state = await getModel(env.OPENTIME_KV, REFRESH, Date.now(), ignore);
    expect(state.ok && state.rejected).toEqual({ version: b, reason: "model-corrupt" });
    expect(served.model.session.released).toBe(false);

    // the publisher fixes B: served at the next refresh
    await env.OPENTIME_KV.put(kvKeys.onnx(b), base64ToBytes(fixture().onnxBase64));
    await nextRefresh();
    expect(await recs(p.userId)).toMatchObject({ reason: "personalized", model: b });

    // A's session is released after the grace period, exactly once, and never used again
    expect(served.model.session.released).toBe(false);
    await getModel(env.OPENTIME_KV, REFRESH, Date.now() + RELEASE_GRACE_MS + 1000, ignore);
    expect(served.model.session.released).toBe(true);
    await expect(served.model.session.topK(new Float32Array(64), 3)).rejects.toBeInstanceOf(SessionUnavailableError);
    expect(await recs(p.userId)).toMatchObject({ reason: "personalized", model: b });
  });

  it("a fresh isolate serves the version active before (model:history) while the active one fails", async () => {
    const a = fixture().version;
    const b = `${a}-b`;
    const p = withFactors();
    await publish(b, corrupt(), [p]);
    await point(b);
    await env.OPENTIME_KV.put(kvKeys.modelHistory, JSON.stringify([{ version: a, activatedAt: "2026-01-01" }]));
    resetModelCache(); // a fresh isolate
    let r: Awaited<ReturnType<typeof recs>> | undefined;
    const logs = await errorLogs(async () => {
      r = await recs(p.userId);
    });
    expect(r).toMatchObject({ reason: "personalized", model: a });
    expect(logs).toContainEqual(
      expect.objectContaining({ event: "model.kept_last_good", version: a, from: "history", rejected: b }),
    );
    // without a history there is nothing to fall back on: generic content, and the reason
    await env.OPENTIME_KV.delete(kvKeys.modelHistory);
    resetModelCache();
    expect(await recs(p.userId)).toMatchObject({ reason: "model-corrupt", model: b });
  });

  it("a slow load of the new version does not hold up requests: they get the last good model meanwhile", async () => {
    const a = fixture().version;
    const b = `${a}-b`;
    const p = withFactors();
    expect(await recs(p.userId)).toMatchObject({ reason: "personalized", model: a });
    await publish(b, base64ToBytes(fixture().onnxBase64), [p]);
    await point(b);
    await nextRefresh();
    // B's ONNX bytes are read only once the gate opens, after the request below has been answered
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const slow = new Proxy(env.OPENTIME_KV, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop !== "get") return typeof value === "function" ? value.bind(target) : value;
        return async (key: string, ...rest: unknown[]) => {
          if (key === kvKeys.onnx(b)) await gate;
          return (target.get as (...args: unknown[]) => Promise<unknown>)(key, ...rest);
        };
      },
    });
    let res = new Response();
    // the request's context stays open for B's load (its waitUntil): awaited once the gate is open
    const ctx = createExecutionContext();
    const logs = await errorLogs(async () => {
      const url = `https://opentime.test/v1/amp/recs?t=${await token(p.userId)}`;
      res = await worker.fetch(
        new Request(url, { headers: { "AMP-Email-Sender": SENDER } }),
        { ...env, OPENTIME_KV: slow },
        ctx,
      );
    });
    // answered while B was still loading (not after B's reads ran into the KV deadline and failed)
    expect(logs.filter((l) => l.event === "model.load_failed")).toEqual([]);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Opentime-Reason")).toBe("personalized");
    expect(res.headers.get("X-Opentime-Model")).toBe(a);
    open();
    await waitOnExecutionContext(ctx);
    const state = await getModel(env.OPENTIME_KV, REFRESH, Date.now(), ignore);
    expect(state.ok && state.model.manifest.version).toBe(b);
    expect(await recs(p.userId)).toMatchObject({ reason: "personalized", model: b });
  });

  it("a pointer to a missing version, or no pointer, keeps the last good model", async () => {
    const a = fixture().version;
    const p = withFactors();
    expect(await recs(p.userId)).toMatchObject({ reason: "personalized", model: a });
    await point("never-published");
    await nextRefresh();
    expect(await recs(p.userId)).toMatchObject({ reason: "personalized", model: a });
    await env.OPENTIME_KV.delete(kvKeys.activeModel);
    await nextRefresh();
    expect(await recs(p.userId)).toMatchObject({ reason: "personalized", model: a });
  });

  it("a pointer whose version is not header-safe is refused, never copied into a header", async () => {
    await clearKv();
    await seedModel({ pointer: false });
    for (const version of ["v1\r\nX-Injected: 1", "a:b", "x".repeat(65), "ünïcode"]) {
      await env.OPENTIME_KV.put(kvKeys.activeModel, JSON.stringify({ version, activatedAt: "now" }));
      resetModelCache(); // a fresh isolate
      const r = await recs(withFactors().userId, 4);
      expect(r.reason).toBe("model-pointer-missing");
      expect(r.model).toBe("none");
      expect(r.ids).toHaveLength(4);
    }
  });

  it("a version whose item table is missing serves without fold-in, and says so in the log", async () => {
    const f = fixture();
    expect(JSON.parse(f.manifestJson).foldIn).toBeDefined();
    await env.OPENTIME_KV.delete(kvKeys.itemTable(f.version));
    resetModelCache();
    let state: Awaited<ReturnType<typeof getModel>> | undefined;
    const logs = await errorLogs(async () => {
      state = await getModel(env.OPENTIME_KV, REFRESH, Date.now(), ignore);
    });
    expect(state?.ok && state.model.foldIn).toBe(null);
    expect(logs).toContainEqual(
      expect.objectContaining({ event: "model.fold_in_unavailable", version: f.version, detail: "no item table" }),
    );
  });

  it("a manifest stored under another version's name is refused", async () => {
    const a = fixture().version;
    await env.OPENTIME_KV.put(kvKeys.manifest("other"), fixture().manifestJson); // names version A
    await env.OPENTIME_KV.put(kvKeys.catalog("other"), fixture().catalogJson);
    await env.OPENTIME_KV.put(kvKeys.onnx("other"), base64ToBytes(fixture().onnxBase64));
    await point("other");
    resetModelCache(); // a fresh isolate
    const r = await recs(withFactors().userId, 4);
    expect(r.reason).toBe("model-manifest-invalid");
    expect(r.model).toBe("other");
    expect(a).not.toBe("other");
  });
});

/** onnxruntime's session class (typed as a factory): every session's `run` goes through its prototype. */
const sessionPrototype = () => (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;

describe("ORT session faults", () => {
  beforeEach(async () => {
    await clearKv();
    await seedModel();
  });
  afterEach(() => vi.restoreAllMocks());

  it("a throwing session gives fallbacks; one that keeps throwing trips and is rebuilt at the next refresh", async () => {
    const p = withFactors();
    expect((await recs(p.userId)).reason).toBe("personalized");
    const served = await getModel(env.OPENTIME_KV, REFRESH, Date.now(), ignore);
    if (!served.ok) throw new Error("no model");
    const run = vi.spyOn(sessionPrototype(), "run").mockRejectedValue(new Error("wasm abort"));
    for (let i = 0; i < TRIP_AFTER_FAILURES + 3; i++) {
      const r = await recs(p.userId, 4);
      expect(r.reason).toBe("scoring-error");
      expect(r.ids).toHaveLength(4);
    }
    // tripped: later requests no longer enter the broken session
    expect(run).toHaveBeenCalledTimes(TRIP_AFTER_FAILURES);
    expect(served.model.session.tripped).toBe(true);
    run.mockRestore();
    await nextRefresh();
    expect(await recs(p.userId)).toMatchObject({ reason: "personalized", model: fixture().version });
    const rebuilt = await getModel(env.OPENTIME_KV, REFRESH, Date.now(), ignore);
    expect(rebuilt.ok && rebuilt.model.session).not.toBe(served.model.session);
    await getModel(env.OPENTIME_KV, REFRESH, Date.now() + RELEASE_GRACE_MS + 1000, ignore);
    expect(served.model.session.released).toBe(true);
  });
});

describe("session guard", () => {
  function fake() {
    const calls = { runs: 0, releases: 0 };
    let finish: (() => void) | null = null;
    let fail = false;
    const inner: ScoringSession = {
      topK: async () => {
        calls.runs++;
        if (fail) throw new Error("boom");
        await new Promise<void>((r) => {
          finish = r;
        });
        return { indices: [0], scores: [1] };
      },
      itemScores: async () => ({ scores: new Float32Array(1), top: [] }),
      release: async () => {
        calls.releases++;
      },
    };
    return { inner, calls, finish: () => finish?.(), failNext: (f: boolean) => (fail = f) };
  }

  it("releases the session exactly once, only after the runs in flight end", async () => {
    const f = fake();
    const s = guardSession(f.inner);
    const running = s.topK(new Float32Array(1), 1);
    const r1 = s.release();
    const r2 = s.release();
    await Promise.resolve();
    expect(f.calls.releases).toBe(0);
    expect(s.inFlight).toBe(1);
    f.finish();
    expect(await running).toEqual({ indices: [0], scores: [1] });
    await Promise.all([r1, r2, s.release()]);
    expect(f.calls.releases).toBe(1);
    await expect(s.topK(new Float32Array(1), 1)).rejects.toBeInstanceOf(SessionUnavailableError);
    expect(f.calls.runs).toBe(1);
  });

  it("trips after consecutive failures; a success in between resets the count", async () => {
    const f = fake();
    const s = guardSession(f.inner, 3);
    f.failNext(true);
    for (let i = 0; i < 2; i++) await expect(s.topK(new Float32Array(1), 1)).rejects.toThrow("boom");
    f.failNext(false);
    const ok = s.topK(new Float32Array(1), 1);
    await Promise.resolve();
    f.finish();
    await ok;
    expect(s.failures).toBe(0);
    f.failNext(true);
    for (let i = 0; i < 3; i++) await expect(s.topK(new Float32Array(1), 1)).rejects.toThrow("boom");
    expect(s.tripped).toBe(true);
    await expect(s.topK(new Float32Array(1), 1)).rejects.toBeInstanceOf(SessionUnavailableError);
    expect(f.calls.runs).toBe(6);
  });
});

describe("GET /v1/send-time with unreadable stored hours", () => {
  beforeEach(async () => {
    await clearKv();
    await seedModel({ fixture: retailFixture() });
  });

  it("bad base64 or a wrong length answers the segment's or shop's hours, not a 500", async () => {
    const p = retailFixture().profiles.find((x) => x.sendTime) as Profile;
    const sendTime = p.sendTime as NonNullable<Profile["sendTime"]>;
    for (const hourOfWeek of ["%%% not base64 %%%", bytesToBase64(new Uint8Array(12)), "=".repeat(1000)]) {
      await env.OPENTIME_KV.put(
        kvKeys.profile(p.userId),
        JSON.stringify({ ...p, sendTime: { ...sendTime, hourOfWeek } }),
      );
      const res = await call(`/v1/send-time?t=${await token(p.userId)}`, ADMIN);
      expect(res.status).toBe(200);
      const body = (await res.json()) as SendTimeResponse;
      expect(body.source).toBe(p.segment ? "segment" : "shop");
      expect(body.hour_of_week).toHaveLength(168);
      expect(body.best_hours_utc).toHaveLength(3);
    }
  });
});
