/**
 * A binding left out of wrangler.toml is answered with a code that names it, never a bare 500: the admin routes
 * that need the readers' shards (READERS) answer 503 STATE_UNAVAILABLE saying the binding is missing; without the
 * KV namespace (OPENTIME_KV) the email's routes serve their fallbacks and the others 503 KV_UNAVAILABLE, but the
 * dashboard, which shows what the registry and D1 hold (dashboard-kv-outages.test.ts).
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";
import { TEST_ADMIN_KEY } from "./fixture";

type Bindings = typeof env;

async function request(
  bindings: Bindings,
  method: string,
  path: string,
  more: Record<string, string> = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const headers = { Authorization: `Bearer ${TEST_ADMIN_KEY}`, ...more };
  const res = await worker.fetch(
    new Request(`https://opentime.shop.example${path}`, { method, headers }),
    bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

describe("no READERS binding", () => {
  it.each([
    ["GET", "/v1/users/u-missing-1"],
    ["DELETE", "/v1/users/u-missing-1"],
    ["GET", "/v1/admin/suppressions"],
    ["GET", "/v1/admin/dead-letters?user=u-missing-1"],
  ])("%s %s: 503 STATE_UNAVAILABLE naming the binding", async (method, path) => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const res = await request({ ...env, READERS: undefined } as Bindings, method, path);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(503);
    expect(body.error.code).toBe("STATE_UNAVAILABLE");
    expect(body.error.message).toContain("READERS");
  });
});

describe("no OPENTIME_KV binding", () => {
  const bindings = () => ({ ...env, OPENTIME_KV: undefined }) as unknown as Bindings;

  it("the email's routes serve their fallbacks; the health check names what is missing", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const recs = await request(bindings(), "GET", "/v1/amp/recs?t=x", {
      "AMP-Email-Sender": "newsletter@shop.example",
    });
    expect(recs.status).toBe(200);
    expect(((await recs.json()) as { items: unknown[] }).items).toEqual([]);
    const image = await request(bindings(), "GET", "/v1/img/x/row-0.png");
    expect([image.status, image.headers.get("Content-Type")]).toEqual([200, "image/png"]);
    const click = await request(bindings(), "GET", "/v1/c/x/row-0");
    expect(click.status).toBe(302);
    const health = await request(bindings(), "GET", "/v1/health");
    expect(health.status).toBe(200);
    expect(((await health.json()) as { config: string[] }).config).toContain("kv_binding_missing");
  });

  it("an API route that reads KV answers 503 KV_UNAVAILABLE naming the binding, and logs what failed", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const res = await request(bindings(), "GET", "/v1/users/u-missing-1");
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(503);
    expect(body.error).toMatchObject({ code: "KV_UNAVAILABLE" });
    expect(body.error.message).toContain("OPENTIME_KV");
    const logged = errors.mock.calls.map((call) => String(call[0]));
    expect(logged.some((line) => line.includes('"unhandled"') && line.includes("no OPENTIME_KV binding"))).toBe(true);
  });
});
