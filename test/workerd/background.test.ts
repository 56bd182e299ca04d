/** Work left to run after the response: a failure never reaches the answer, and is logged, not swallowed. */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { background } from "../../worker/lib/background";

afterEach(() => vi.restoreAllMocks());

function appWith(work: () => Promise<unknown>) {
  const app = new Hono();
  app.get("/", (c) => {
    background(c).waitUntil(work());
    return c.text("answered");
  });
  return app;
}

describe("background work", () => {
  it("a failure after the response is logged as background.failed, with the error's message, and the answer stands", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => lines.push(String(line)));
    const ctx = createExecutionContext();
    const res = await appWith(() => Promise.reject(new Error("KV put refused"))).fetch(
      new Request("https://opentime.test/"),
      env,
      ctx,
    );
    expect(await res.text()).toBe("answered");
    await waitOnExecutionContext(ctx);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toEqual([
      expect.objectContaining({ level: "error", event: "background.failed", error: "KV put refused" }),
    ]);
  });

  it("without an execution context the work is awaited at flush, its failure logged the same way", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => lines.push(String(line)));
    let flushed: Promise<void> = Promise.resolve();
    const app = new Hono();
    app.get("/", (c) => {
      const bg = background(c);
      bg.waitUntil(Promise.reject(new Error("queue refused")));
      flushed = bg.flush();
      return c.text("answered");
    });
    expect(await (await app.request("/")).text()).toBe("answered");
    await flushed;
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(["background.failed"]);
  });
});
