/**
 * The `scheduled` handler knows a job by its schedule's text (worker/scheduled-crons.ts): a Cron Trigger whose
 * schedule names no job (wrangler.toml's `crons` edited, the constant not) runs nothing, and says so as an error
 * instead of returning as a run that did its work.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";

async function scheduled(cron: string): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("a Cron Trigger the Worker has no job for", () => {
  afterEach(() => vi.restoreAllMocks());

  it("is logged as an error naming the schedule and the ones it knows", async () => {
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => errors.push(line));
    // the drift job moved to 02:30 in wrangler.toml alone
    await scheduled("30 2 * * *");
    const line = errors
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.event === "scheduled.unknown_cron");
    expect(line).toBeDefined();
    expect(line?.cron).toBe("30 2 * * *");
    expect(line?.known).toEqual(["0 * * * *", "30 4 * * *"]);
  });
});
