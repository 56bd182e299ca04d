/**
 * An admin route whose KV operation fails, through the real app (worker/index.ts, with its KV deadlines): KV's
 * passing failures (its rate limit, its 5xx, an operation past its deadline) answer 503 KV_UNAVAILABLE with
 * Retry-After: 1, the free plan's daily allowance spent 503 with Retry-After until 00:00 UTC, and KV refusing what
 * our code asked (a key too long, a value too large, an empty key) stays 500 INTERNAL: that is a bug to fix. The
 * same holds for a KV operation a reader's shard makes for the route (its error crosses the RPC with KV's words).
 */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile } from "../../core/profile";
import { readerStub } from "../../worker/state/shard-routing";
import { resetTriggersCache } from "../../worker/triggers/trigger-config";
import { ADMIN_HEADERS, send } from "./support/harness";
import { withObjectEnv } from "./support/object-env";

/** KV whose get, getWithMetadata and list reject with `error()`, or never settle (`"hang"`); the rest is KV's. */
function kvFailing(error: (() => unknown) | "hang"): KVNamespace {
  return new Proxy(env.OPENTIME_KV, {
    get(target, key) {
      if (key === "get" || key === "getWithMetadata" || key === "list")
        return () => (error === "hang" ? new Promise(() => {}) : Promise.reject(error()));
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as KVNamespace;
}

/** An admin read of KV (the stored campaigns' list; a reader's profile, a get) with KV failing. */
async function adminRead(path: string, error: (() => unknown) | "hang") {
  const res = await send(path, { headers: ADMIN_HEADERS }, { ...env, OPENTIME_KV: kvFailing(error) });
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { res, code: body.error.code, message: body.error.message };
}

const PATHS = ["/v1/admin/campaigns", "/v1/users/kv-reader?fields=profile&view=edge"];

describe("an admin route whose KV operation fails", () => {
  it("KV's rate limit and its own errors: 503 KV_UNAVAILABLE with Retry-After: 1, logged without the path", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      for (const path of PATHS)
        for (const message of [
          "KV GET failed: 429 Too Many Requests",
          "KV GET failed: 500 Internal Server Error",
          "KV GET failed: 503 Service Unavailable",
          "KV GET_BULK failed: 502 Bad Gateway",
        ]) {
          const { res, code } = await adminRead(path, () => new Error(message));
          expect(res.status, `${path} ${message}`).toBe(503);
          expect(code).toBe("KV_UNAVAILABLE");
          expect(res.headers.get("Retry-After")).toBe("1");
        }
      const lines = warn.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
      const logged = lines.filter((l) => l.event === "kv_unavailable");
      expect(logged.length).toBe(8);
      expect(JSON.stringify(logged)).not.toContain("kv-reader");
    } finally {
      warn.mockRestore();
    }
  });

  it("an operation past its deadline is a passing failure too", async () => {
    const { res, code } = await adminRead(PATHS[0] as string, "hang");
    expect(res.status).toBe(503);
    expect(code).toBe("KV_UNAVAILABLE");
    expect(res.headers.get("Retry-After")).toBe("1");
  });

  it("the free plan's daily allowance spent: 503 with Retry-After until 00:00 UTC", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { res, code, message } = await adminRead(
      PATHS[0] as string,
      () => new Error("KV list() limit exceeded for the day."),
    );
    const after = Math.floor(Date.now() / 1000);
    expect(res.status).toBe(503);
    expect(code).toBe("KV_UNAVAILABLE");
    expect(message).toMatch(/00:00 UTC/);
    const retryAfter = Number(res.headers.get("Retry-After"));
    const midnight = (s: number) => 86_400 - (s % 86_400);
    expect(retryAfter).toBeGreaterThanOrEqual(Math.min(midnight(before), midnight(after)));
    expect(retryAfter).toBeLessThanOrEqual(Math.max(midnight(before), midnight(after)));
  });

  it("KV refusing what our code asked, and errors not KV's, stay 500 INTERNAL", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      for (const make of [
        () => new Error("KV GET failed: 414 UTF-8 encoded length of 600 exceeds key length limit of 512."),
        () => new Error("KV GET failed: 400 Bad Request"),
        () => new TypeError("Key name cannot be empty."),
        () => new Error("something else failed: 503"),
      ]) {
        const { res, code } = await adminRead(PATHS[0] as string, make);
        expect(res.status, String(make())).toBe(500);
        expect(code).toBe("INTERNAL");
        expect(res.headers.get("Retry-After")).toBeNull();
      }
    } finally {
      error.mockRestore();
    }
  });
});

describe("an experiment's report whose experiment KV cannot read", () => {
  it("is 503 KV_UNAVAILABLE, never 404 NOT_FOUND nor the report of a global holdout that is off", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      for (const id of ["kv-report-exp", "global-holdout"]) {
        const { res, code } = await adminRead(
          `/v1/admin/experiments/${id}/report`,
          () => new Error("KV GET failed: 503 Service Unavailable"),
        );
        expect(res.status, id).toBe(503);
        expect(code).toBe("KV_UNAVAILABLE");
        expect(res.headers.get("Retry-After")).toBe("1");
      }
    } finally {
      warn.mockRestore();
    }
  });
});

describe("the triggers' configuration KV cannot read", () => {
  it("is 503 KV_UNAVAILABLE with KV's Retry-After (1, or until 00:00 UTC), as every admin read of KV is", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      resetTriggersCache();
      const failed = await adminRead("/v1/admin/triggers", () => new Error("KV GET failed: 503 Service Unavailable"));
      expect(failed.res.status).toBe(503);
      expect(failed.code).toBe("KV_UNAVAILABLE");
      expect(failed.res.headers.get("Retry-After")).toBe("1");
      const spent = await adminRead("/v1/admin/triggers", () => new Error("KV get() limit exceeded for the day."));
      expect(spent.res.status).toBe(503);
      expect(spent.message).toMatch(/00:00 UTC/);
      expect(Number(spent.res.headers.get("Retry-After"))).toBeGreaterThan(1);
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });

  it("a document that is not JSON is 503 KV_UNAVAILABLE saying to PUT it again, logged without its text", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      await env.OPENTIME_KV.put(kvKeys.triggers, '{"v":1,"triggers":[{"webhook":"https://hooks.example/?key=s3cret"');
      const res = await send("/v1/admin/triggers", { headers: ADMIN_HEADERS });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect([res.status, body.error.code]).toEqual([503, "KV_UNAVAILABLE"]);
      expect(body.error.message).toMatch(/PUT them again/);
      expect(JSON.stringify(error.mock.calls)).not.toContain("s3cret");
    } finally {
      await env.OPENTIME_KV.delete(kvKeys.triggers);
      error.mockRestore();
    }
  });
});

describe("a reader shard whose own KV operation fails, for an admin route", () => {
  /** `act` while the reader's shard (its object, not the route) has a KV whose gets reject with `error()`. */
  const withShardKvFailing = <T>(user: string, error: () => unknown, act: () => Promise<T>): Promise<T> =>
    withObjectEnv(readerStub(env, user), (real) => ({ ...real, OPENTIME_KV: kvFailing(error) }), act);

  /** Replays the reader's parked dead letters: the shard applies them, reading KV for a reader it never held. */
  async function replay(user: string) {
    const res = await send("/v1/admin/dead-letters/replay", {
      method: "POST",
      headers: ADMIN_HEADERS,
      body: JSON.stringify({ user }),
    });
    return { res, body: (await res.json()) as { error?: { code: string }; replayed?: { outcome: string }[] } };
  }

  it("KV's passing failure: 503 KV_UNAVAILABLE with Retry-After; its bugs 500; nothing applied or lost meanwhile", async () => {
    const user = "kvu-shard";
    const ts = Math.floor(Date.now() / 1000) - 60;
    // a reader known only to KV (the state before the shards), whose dead letter waits for an operator
    const kvEra = { ...emptyProfile(user, new Date().toISOString()), seenEvents: ["kvu-old"] };
    await env.OPENTIME_KV.put(kvKeys.profile(user), JSON.stringify(kvEra));
    const event: QueuedEvent = { id: "kvu-1", type: "view", user, item: "p1", ts };
    const stub = readerStub(env, user);
    expect(await stub.park([event])).toEqual(["parked"]);
    const cases: [() => unknown, number, string][] = [
      [() => new Error("KV GET_BULK failed: 503 Service Unavailable"), 503, "KV_UNAVAILABLE"],
      [() => new Error("KV GET_BULK failed: 429 Too Many Requests"), 503, "KV_UNAVAILABLE"],
      [() => new Error("KV get() limit exceeded for the day."), 503, "KV_UNAVAILABLE"],
      [() => new Error("KV GET_BULK failed: 414 key too long"), 500, "INTERNAL"],
      [() => new TypeError("injected: not KV's"), 500, "INTERNAL"],
    ];
    const quiet = [vi.spyOn(console, "warn"), vi.spyOn(console, "error")].map((s) => s.mockImplementation(() => {}));
    try {
      for (const [make, status, code] of cases) {
        const { res, body } = await withShardKvFailing(user, make, () => replay(user));
        expect(res.status, String(make())).toBe(status);
        expect(body.error?.code).toBe(code);
        if (status === 503) expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
        else expect(res.headers.get("Retry-After")).toBeNull();
        // the shard applied nothing and kept the dead letter
        expect(await stub.read(user)).toBeNull();
        expect(await stub.parkedCount(user)).toBe(1);
      }
    } finally {
      for (const s of quiet) s.mockRestore();
    }
    // KV back: the same request applies it, the reader's KV-era state imported with it
    const { res, body } = await replay(user);
    expect(res.status).toBe(200);
    expect(body.replayed?.map((r) => r.outcome)).toEqual(["applied"]);
    expect(await stub.parkedCount(user)).toBe(0);
    expect((await stub.read(user))?.seenEvents).toEqual(["kvu-old", "kvu-1"]);
  });
});
