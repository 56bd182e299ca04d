/**
 * The snapshot interval follows the events queue's backlog (worker/state/reader-shard.ts publishInterval): a batch
 * whose newest first delivery waited 20 s makes its shards write a busy reader's snapshot at most every 20 s, while a
 * batch of retries alone (a message redelivered minutes after it was sent) says nothing of a backlog and leaves the
 * interval as it was.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { QueuedEvent } from "../../core/events";
import worker from "../../worker/index";
import { PUBLISH_INTERVAL_MS, type ReaderShard } from "../../worker/state/reader-shard";
import { readerStub } from "../../worker/state/shard-routing";

const nowS = () => Math.floor(Date.now() / 1000);

/** Delivers one message holding `event`, sent `agoMs` before now, on its `attempts`th try. */
async function deliver(event: QueuedEvent, agoMs: number, attempts: number) {
  const batch = createMessageBatch<QueuedEvent>("opentime-events", [
    { id: `m-${event.id}`, timestamp: new Date(Date.now() - agoMs), attempts, body: event },
  ]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

const intervalOf = (user: string) =>
  runInDurableObject(
    readerStub(env, user),
    (shard: ReaderShard) => (shard as unknown as { interval: number }).interval,
  );

const view = (user: string, n: number): QueuedEvent => ({
  id: `backlog-${user}-${n}`,
  type: "view",
  user,
  item: "p000001",
  ts: nowS(),
});

describe("the snapshot interval and the queue's backlog", () => {
  it("grows with a fresh message's wait; a retry alone, however late, leaves it as it was", async () => {
    const user = "backlog-reader";
    await deliver(view(user, 1), 0, 1);
    expect(await intervalOf(user)).toBe(PUBLISH_INTERVAL_MS);
    // a retry ten minutes after its first send: the interval stays
    await deliver(view(user, 2), 600_000, 3);
    expect(await intervalOf(user)).toBe(PUBLISH_INTERVAL_MS);
    // a first delivery that waited 20 s behind others: the interval follows it
    await deliver(view(user, 3), 20_000, 1);
    const grown = await intervalOf(user);
    expect(grown).toBeGreaterThanOrEqual(20_000);
    expect(grown).toBeLessThan(25_000);
  });
});
