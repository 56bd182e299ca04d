/**
 * The admin list routes take an empty `cursor` as the first page: `?limit=1000&cursor=` (the README's
 * experiments list, a client's template) answers the list, not `400 BAD_REQUEST` for a cursor too short; and a
 * passing KV failure on a later page is a 503 to retry, not a cursor refused.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN_HEADERS, send } from "./support/harness";

describe("an empty cursor", () => {
  for (const path of [
    "/v1/admin/experiments?limit=1000&cursor=",
    "/v1/admin/campaigns?limit=10&cursor=",
    "/v1/admin/dead-letters?shard=3&cursor=",
  ])
    it(`asks for the first page: ${path}`, async () => {
      const res = await send(path, { headers: ADMIN_HEADERS });
      expect(res.status).toBe(200);
      expect((await res.json()) as { cursor: unknown }).toHaveProperty("cursor", null);
    });

  it("is the only cursor let through unchecked", async () => {
    const res = await send(`/v1/admin/experiments?cursor=${"x".repeat(65)}`, { headers: ADMIN_HEADERS });
    expect(res.status).toBe(400);
  });
});

describe("a later page of campaigns while KV fails", () => {
  it("is 503 KV_UNAVAILABLE with Retry-After, not 400 for the cursor; KV's refusal of a cursor stays 400", async () => {
    const failingList = (message: string) =>
      new Proxy(env.OPENTIME_KV, {
        get(target, prop) {
          if (prop === "list") return () => Promise.reject(new Error(message));
          const value = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    const page = (kv: KVNamespace) =>
      send("/v1/admin/campaigns?limit=10&cursor=abc", { headers: ADMIN_HEADERS }, { ...env, OPENTIME_KV: kv });
    const busy = await page(failingList("KV GET failed: 503 Service Unavailable"));
    expect(busy.status).toBe(503);
    expect(((await busy.json()) as { error: { code: string } }).error.code).toBe("KV_UNAVAILABLE");
    expect(busy.headers.get("Retry-After")).toBe("1");
    const refused = await page(failingList("KV GET failed: 400 Bad Request"));
    expect(refused.status).toBe(400);
  });
});
