/**
 * The preview and the dashboard as local development serves them (DEMO_ROUTES on 127.0.0.1: open, no key), each
 * behaviour found by review with its test: the user picker's ids, the dashboard's model section, writes from
 * another site.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import worker from "../../worker/index";
import { clearKv, fixture, seedModel } from "./support/harness";

const LOCAL = "http://127.0.0.1:8787";

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${LOCAL}${path}`, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const user = () => fixture().profiles[0]?.userId as string;

beforeEach(async () => {
  await clearKv();
  await seedModel();
});

describe("the preview's user picker", () => {
  it("names a user id with ':' whole, whether KV holds their profile or only their features", async () => {
    const profile = (await env.OPENTIME_KV.get(kvKeys.profile(user()))) as string;
    await env.OPENTIME_KV.put(kvKeys.profile("shop:1001"), profile);
    await env.OPENTIME_KV.put(kvKeys.features("crm:77:a", "v20240101"), "{}");
    const res = await request("/v1/preview/users");
    expect(res.status).toBe(200);
    const { users } = (await res.json()) as { users: string[] };
    expect(users).toContain("shop:1001");
    expect(users).toContain("crm:77:a");
    expect(users).toContain(user());
    // no id cut at its first ':' (a reader who does not exist)
    expect(users).not.toContain("shop");
    expect(users).not.toContain("crm");
  });
});

describe("the dashboard's model health", () => {
  it("with no model active, says so once", async () => {
    await env.OPENTIME_KV.delete(kvKeys.activeModel);
    const res = await request("/dashboard");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html.match(/No model is active/g)).toHaveLength(1);
  });
});
