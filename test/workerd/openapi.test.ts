/**
 * GET /openapi.json in workerd: served, public, listing exactly the routes the app registers, and each route
 * asking for the key its description names (`auth`: a route documented as the admin API's refuses the events
 * key, and the other way round).
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../worker/app";
import worker from "../../worker/index";
import { ROUTES } from "../../worker/openapi/document";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY } from "./fixture";

describe("OpenAPI route", () => {
  it("is served without a key", async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request("https://opentime.test/openapi.json"), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/v1/admin/triggers");
  });

  it("documents every route the app registers, and no other (the demo shop's local routes aside)", () => {
    const registered = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL" && !r.path.startsWith("/demo/"))
        .map((r) => `${r.method} ${r.path}`),
    );
    const documented = new Set(ROUTES.map((r) => `${r.method.toUpperCase()} ${r.route}`));
    expect([...documented].filter((r) => !registered.has(r))).toEqual([]);
    expect([...registered].filter((r) => !documented.has(r))).toEqual([]);
  });

  it("has each route ask for the key its description names, and refuse the other API's", async () => {
    const keys = { admin: TEST_ADMIN_KEY, events: TEST_EVENTS_KEY } as const;
    const keyed = ROUTES.filter((r) => r.auth === "admin" || r.auth === "events");
    expect(keyed.length).toBeGreaterThan(25);
    const wrong: string[] = [];
    for (const r of keyed) {
      const path = r.route.replace(/:[a-z]+/gi, "x").replace(/\*$/, "x/0");
      const other = r.auth === "admin" ? keys.events : keys.admin;
      const tries: Record<string, string>[] = [{}, { Authorization: `Bearer ${other}` }];
      for (const headers of tries) {
        const body = ["put", "post", "patch"].includes(r.method) ? "{}" : undefined;
        const ctx = createExecutionContext();
        const res = await worker.fetch(
          new Request(`https://opentime.test${path}`, {
            method: r.method.toUpperCase(),
            headers: { ...headers, ...(body && { "Content-Type": "application/json" }) },
            ...(body && { body }),
          }),
          env,
          ctx,
        );
        await waitOnExecutionContext(ctx);
        if (res.status !== 401) wrong.push(`${r.method} ${r.route} (${r.auth}) ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
