/**
 * Ingestion load test and reconciliation, against any running Worker (loopback by default):
 * posts `users x eventsPerUser` events in bursts of 500 (plus re-sent duplicate batches), then checks
 * through the admin API that every accepted event is reflected exactly once in the profiles; then
 * measures end-to-end lag from POST to the change being visible, on fresh probe users.
 * Bounded: a fixed number of requests, a deadline for the drain, loopback unless told otherwise.
 */
import { summarize } from "./stats";

export interface LoadTestOptions {
  /** sends a request to the Worker (fetch against a URL, or Miniflare's dispatchFetch) */
  send: (path: string, init: RequestInit) => Promise<Response>;
  eventsKey: string;
  adminKey: string;
  users: number;
  eventsPerUser: number;
  concurrency: number;
  duplicateBatches: number;
  lagSamples: number;
  drainSeconds: number;
  prefix: string;
}

export interface LoadTestResult {
  events: number;
  users: number;
  requests: number;
  duplicate_batches: number;
  /** 503 answers waited out and resent */
  backpressure_retries: number;
  accepted: number;
  post_seconds: number;
  accepted_per_second: number;
  drain_seconds: number;
  reconciled: { exact: number; mismatched: number; missing: number };
  lag_ms: ReturnType<typeof summarize>;
}

interface Ev {
  id: string;
  type: string;
  user: string;
  item: string;
  ts: number;
  properties?: Record<string, number>;
}

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export async function runLoadTest(o: LoadTestOptions): Promise<LoadTestResult> {
  const now = Math.floor(Date.now() / 1000);
  const types = ["view", "view", "view", "cart_add", "purchase"];
  const events: Ev[] = [];
  const expectedOrders = new Map<string, number>();
  for (let u = 0; u < o.users; u++) {
    const user = `${o.prefix}-u${u}`;
    let orders = 0;
    for (let k = 0; k < o.eventsPerUser; k++) {
      const type = types[(u + k) % types.length] as string;
      if (type === "purchase") orders++;
      events.push({
        id: `${user}-e${k}`,
        type,
        user,
        item: `${o.prefix}-item-${(u * 7 + k) % 997}`,
        ts: now - 3600 + k,
        properties: { price: 2 },
      });
    }
    expectedOrders.set(user, orders);
  }
  // interleave users within bursts, as live traffic does
  events.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1));
  const batches: Ev[][] = [];
  for (let i = 0; i < events.length; i += 500) batches.push(events.slice(i, i + 500));
  const replays = Array.from({ length: o.duplicateBatches }, (_, i) => batches[(i * 37) % batches.length] as Ev[]);
  let backoffs = 0;
  const post = async (batch: Ev[]) => {
    for (let attempt = 0; ; attempt++) {
      const res = await o.send("/v1/events", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${o.eventsKey}` },
        body: JSON.stringify({ events: batch }),
      });
      const body = (await res.json()) as { accepted?: number; error?: { message: string } };
      if (res.status === 202) return body.accepted ?? 0;
      // 503 is back-pressure: wait as told and resend (the consumer counts repeats once)
      if (res.status !== 503 || attempt >= 200)
        throw new Error(`POST /v1/events: ${res.status} ${body.error?.message ?? ""}`);
      backoffs++;
      await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get("Retry-After") ?? "1")));
    }
  };
  let accepted = 0;
  const t0 = performance.now();
  await pool([...batches, ...replays], o.concurrency, async (b) => {
    const n = await post(b); // not `accepted += await ...`: that reads `accepted` before the await
    accepted += n;
  });
  const postSeconds = (performance.now() - t0) / 1000;

  // drain and reconcile: orders per user must equal the unique purchase events sent
  const admin = { headers: { Authorization: `Bearer ${o.adminKey}` } };
  const pending = new Set(expectedOrders.keys());
  const mismatched = new Set<string>();
  const deadline = performance.now() + o.drainSeconds * 1000;
  while (pending.size > 0 && performance.now() < deadline) {
    await pool([...pending], 16, async (user) => {
      const res = await o.send(`/v1/users/${user}`, admin);
      if (res.status !== 200) {
        await res.text();
        return;
      }
      const p = ((await res.json()) as { profile: { rfm: { orders: number }; seenEvents: string[] } }).profile;
      if (p.seenEvents.length === o.eventsPerUser) {
        pending.delete(user);
        if (p.rfm.orders !== expectedOrders.get(user)) mismatched.add(user);
      } else if (p.seenEvents.length > o.eventsPerUser) {
        pending.delete(user);
        mismatched.add(user);
      }
    });
    if (pending.size) await new Promise((r) => setTimeout(r, 250));
  }
  const drainSeconds = (performance.now() - t0) / 1000 - postSeconds;

  // lag: one event for a fresh user, then poll until their profile shows it
  const lags: number[] = [];
  for (let s = 0; s < o.lagSamples; s++) {
    const user = `${o.prefix}-probe${s}`;
    const start = performance.now();
    await post([
      { id: `${user}-e`, type: "view", user, item: `${o.prefix}-item-1`, ts: Math.floor(Date.now() / 1000) },
    ]);
    for (;;) {
      const res = await o.send(`/v1/users/${user}`, admin);
      await res.text();
      if (res.status === 200) break;
      if (performance.now() - start > 30_000) throw new Error(`probe ${user} not visible after 30 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    lags.push(performance.now() - start);
  }
  return {
    events: events.length,
    users: o.users,
    requests: batches.length + replays.length,
    duplicate_batches: replays.length,
    backpressure_retries: backoffs,
    accepted,
    post_seconds: Math.round(postSeconds * 10) / 10,
    accepted_per_second: Math.round(accepted / postSeconds),
    drain_seconds: Math.round(drainSeconds * 10) / 10,
    reconciled: { exact: o.users - pending.size - mismatched.size, mismatched: mismatched.size, missing: pending.size },
    lag_ms: summarize(lags),
  };
}
