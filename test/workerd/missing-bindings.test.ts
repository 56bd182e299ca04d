/**
 * A Durable Object binding left out of wrangler.toml is answered with a code that names it, never a bare 500: the
 * admin routes that need the readers' shards (READERS) answer 503 STATE_UNAVAILABLE saying the binding is missing.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";
import { TEST_ADMIN_KEY } from "./fixture";

type Bindings = typeof env;

async function request(bindings: Bindings, method: string, path: string): Promise<Response> {
  const ctx = createExecutionContext();
  const headers = { Authorization: `Bearer ${TEST_ADMIN_KEY}` };
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
