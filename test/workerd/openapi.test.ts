/** GET /openapi.json in workerd: served, public, and listing exactly the routes the app registers. */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../worker/app";
import worker from "../../worker/index";
import { ROUTES } from "../../worker/openapi/document";

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
});
