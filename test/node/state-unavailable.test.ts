/**
 * The one error handler (worker/errors.ts) answers a Durable Object's infrastructure failure, as the runtime
 * marks it on the error it throws at the call site, with 503 STATE_UNAVAILABLE and a Retry-After, and keeps
 * 500 INTERNAL for everything else, our own objects' errors included; a route that words the failure itself
 * (`unavailableAs`) answers the same statuses and waits with its own message.
 */
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import { handleError, unavailableAs } from "../../worker/errors";

function appThrowing(err: unknown): Hono {
  const app = new Hono();
  app.onError(handleError);
  app.get("/v1/admin/thing/:id", () => {
    throw err;
  });
  return app;
}

/** A route that catches `err` from its call and words a passing failure itself. */
function appWording(err: unknown): Hono {
  const app = new Hono();
  app.onError(handleError);
  app.get("/v1/admin/thing", () => {
    throw unavailableAs(err, {
      STATE_UNAVAILABLE: "the thing's shard: retry",
      KV_UNAVAILABLE: "the thing's KV: retry",
    });
  });
  return app;
}

function runtimeError(props: Record<string, boolean>): Error {
  return Object.assign(new Error("Durable Object reset because its code was updated."), props);
}

describe("a Durable Object that cannot answer", () => {
  it("a passing failure is a 503 to retry in a second, logged by the route's pattern", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const res = await appThrowing(runtimeError({ retryable: true })).request("/v1/admin/thing/c42");
      expect(res.status).toBe(503);
      expect(res.headers.get("Retry-After")).toBe("1");
      expect(await res.json()).toEqual({
        error: {
          code: "STATE_UNAVAILABLE",
          message: "a Durable Object this request needs could not be reached: retry",
        },
      });
      const line = JSON.parse(String(warn.mock.calls.at(-1)?.[0]));
      expect(line).toMatchObject({ event: "state_unavailable", route: "/v1/admin/thing/:id", overloaded: false });
      expect(JSON.stringify(line)).not.toContain("c42");
    } finally {
      warn.mockRestore();
    }
  });

  it("an overloaded object is told to wait longer", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const res = await appThrowing(runtimeError({ overloaded: true, retryable: false })).request("/v1/admin/thing/1");
      expect(res.status).toBe(503);
      expect(res.headers.get("Retry-After")).toBe("10");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("STATE_UNAVAILABLE");
    } finally {
      warn.mockRestore();
    }
  });

  it("our own objects' errors (remote), and errors no runtime marked, stay 500 INTERNAL", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      for (const err of [
        runtimeError({ retryable: true, remote: true }),
        runtimeError({ retryable: false }),
        new Error("boom"),
        Object.assign(new Error("x"), { retryable: "yes" }),
      ]) {
        const res = await appThrowing(err).request("/v1/admin/thing/1");
        expect(res.status).toBe(500);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("INTERNAL");
      }
    } finally {
      error.mockRestore();
    }
  });

  it("a route that words the failure: its message, with the handler's status and wait; a bug stays 500", async () => {
    const overloaded = await appWording(runtimeError({ overloaded: true })).request("/v1/admin/thing");
    expect(overloaded.status).toBe(503);
    expect(overloaded.headers.get("Retry-After")).toBe("10");
    expect(await overloaded.json()).toEqual({
      error: { code: "STATE_UNAVAILABLE", message: "the thing's shard: retry" },
    });
    const kv = await appWording(new Error("KV PUT failed: 429 Too Many Requests")).request("/v1/admin/thing");
    expect(kv.status).toBe(503);
    expect(kv.headers.get("Retry-After")).toBe("1");
    expect(await kv.json()).toEqual({ error: { code: "KV_UNAVAILABLE", message: "the thing's KV: retry" } });
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      for (const err of [runtimeError({ retryable: true, remote: true }), new TypeError("x is undefined")]) {
        const res = await appWording(err).request("/v1/admin/thing");
        expect(res.status).toBe(500);
        expect(res.headers.get("Retry-After")).toBeNull();
      }
    } finally {
      error.mockRestore();
    }
  });
});
