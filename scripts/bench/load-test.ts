/**
 * Ingestion load test and reconciliation, against any running Worker (loopback by default):
 * posts `users x eventsPerUser` interleaved events in bursts of 500 (and re-sends some batches); from the
 * last accepted POST, polls the authoritative profiles (`GET /v1/users/<id>`, admin) until every reader shows
 * each event exactly once (`drain_seconds`); then measures POST-to-visible lag on what a reader's next open
 * reads (`GET /v1/users/<id>?view=edge`, the edge snapshot; the plain endpoint if the server refuses the view).
 * Bounded: a fixed number of requests, a deadline and a stall limit for the drain, loopback unless told otherwise.
 */
import { MAX_SEEN_EVENTS } from "../../core/profile";
import { type LatencySummary, summarize } from "./stats";

export interface LoadTestOptions {
  /** sends a request to the Worker (fetch against a URL, or Miniflare's dispatchFetch) */
  send: (path: string, init: RequestInit) => Promise<Response>;
  eventsKey: string;
  adminKey: string;
  users: number;
  eventsPerUser: number;
  /** concurrent POSTs */
  concurrency: number;
  duplicateBatches: number;
  lagSamples: number;
  /** deadline of the drain, seconds after the last accepted POST */
  drainSeconds: number;
  prefix: string;
  /** the drain gives up when no reader's state changed for this long (a lost event never arrives); default 60 */
  stallSeconds?: number;
  /** concurrent GETs while draining; default 16 */
  pollConcurrency?: number;
  /** a lag probe not visible after this long is counted at this value (and in `lag_timeouts`); default 30 */
  lagTimeoutSeconds?: number;
  /** human-readable progress (the CLI writes it to stderr) */
  log?: (line: string) => void;
}

export interface LoadTestResult {
  events: number;
  users: number;
  events_per_user: number;
  requests: number;
  duplicate_batches: number;
  /** 503 answers waited out and resent */
  backpressure_retries: number;
  /** events accepted (202), duplicate batches included */
  accepted: number;
  /** first POST to the last accepted POST */
  post_seconds: number;
  accepted_per_second: number;
  /** last accepted POST until every reader reconciled (or the drain gave up) */
  drain_seconds: number;
  /** events / (post_seconds + drain_seconds) */
  events_per_second_end_to_end: number;
  /** readers whose events all showed exactly once; counted more or fewer; never visible */
  reconciled: { exact: number; mismatched: number; missing: number };
  /** GET requests made while draining */
  drain_polls: number;
  /** what `lag_ms` was read from: the edge snapshot (`?view=edge`) or the authoritative profile */
  lag_view: "edge" | "authoritative";
  /** POST of one purchase by an already reconciled reader until it is visible, after the drain */
  lag_ms: LatencySummary;
  lag_timeouts: number;
}

interface Ev {
  id: string;
  type: string;
  user: string;
  item: string;
  ts: number;
  properties?: Record<string, number>;
}

/** What the admin API shows of a reader (a 404 is `visible: false`). */
interface Observation {
  visible: boolean;
  /** ids in `seenEvents` */
  events: number;
  distinct: number;
  orders: number;
}

type Verdict = "exact" | "mismatched" | "pending";

/** 0 when every reader reconciled exactly, else 1: the CLI's exit code. */
export function exitCode(result: Pick<LoadTestResult, "users" | "reconciled">): 0 | 1 {
  const r = result.reconciled;
  return r.exact === result.users && r.mismatched === 0 && r.missing === 0 ? 0 : 1;
}

/** The machine-readable summary: one JSON object on one line. */
export function resultLine(result: LoadTestResult, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, ...result });
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** seconds, to the millisecond, never 0 (so rates stay finite) */
const secs = (ms: number) => Math.max(1, Math.round(ms)) / 1000;
const DRAIN_POLL_MS = 200;
const LAG_POLL_MS = 20;

/** Readers' events, interleaved by time as live traffic is, and what each reader should end up with. */
function workload(o: LoadTestOptions) {
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
  events.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1));
  // readers in the order their last event was sent: the order they can complete in
  const last = new Map<string, number>();
  for (const [i, e] of events.entries()) last.set(e.user, i);
  const completionOrder = [...last.keys()].sort((a, b) => (last.get(a) ?? 0) - (last.get(b) ?? 0));
  return { events, expectedOrders, completionOrder };
}

export async function runLoadTest(o: LoadTestOptions): Promise<LoadTestResult> {
  const log = o.log ?? (() => {});
  const pollConcurrency = o.pollConcurrency ?? 16;
  const { events, expectedOrders, completionOrder } = workload(o);
  const batches: Ev[][] = [];
  for (let i = 0; i < events.length; i += 500) batches.push(events.slice(i, i + 500));
  // duplicates of batches from the first half, each re-sent right after the next batch (as a client retrying a
  // timed-out request would): applied long before any reader can complete, so a double count shows when it does
  const half = Math.max(1, Math.floor(batches.length / 2));
  const replaysAfter = new Map<number, Ev[][]>();
  for (let i = 0; i < o.duplicateBatches; i++) {
    const source = (i * 37) % half;
    const after = Math.min(source + 1, batches.length - 1);
    replaysAfter.set(after, [...(replaysAfter.get(after) ?? []), batches[source] as Ev[]]);
  }
  const requests = batches.flatMap((b, i) => [b, ...(replaysAfter.get(i) ?? [])]);

  let backoffs = 0;
  let lastAccepted = performance.now();
  const post = async (batch: Ev[]) => {
    for (let attempt = 0; ; attempt++) {
      const res = await o.send("/v1/events", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${o.eventsKey}` },
        body: JSON.stringify({ events: batch }),
      });
      const body = (await res.json()) as { accepted?: number; error?: { message: string } };
      if (res.status === 202) {
        lastAccepted = performance.now();
        return body.accepted ?? 0;
      }
      // 503 is back-pressure: wait as told and resend (the consumer counts repeats once)
      if (res.status !== 503 || attempt >= 200)
        throw new Error(`POST /v1/events: ${res.status} ${body.error?.message ?? ""}`);
      backoffs++;
      await sleep(1000 * Number(res.headers.get("Retry-After") ?? "1"));
    }
  };

  // post
  let accepted = 0;
  let posted = 0;
  const t0 = performance.now();
  let logged = t0;
  await pool(requests, o.concurrency, async (b) => {
    const n = await post(b); // not `accepted += await ...`: that reads `accepted` before the await
    accepted += n;
    posted++;
    if (performance.now() - logged > 5000) {
      logged = performance.now();
      log(`posted ${posted}/${requests.length} requests, ${accepted} events accepted`);
    }
  });
  const postEnd = lastAccepted;
  log(`posted ${events.length} events (+${o.duplicateBatches} duplicate batches) in ${secs(postEnd - t0)} s`);

  // drain: authoritative profiles until each reader shows its events exactly once
  const admin = { headers: { Authorization: `Bearer ${o.adminKey}` } };
  const seenTarget = Math.min(o.eventsPerUser, MAX_SEEN_EVENTS);
  let polls = 0;
  /** 404: nothing stored yet; 400: "refused" (a server without the view asked for); 5xx: "unavailable" */
  const observe = async (path: string): Promise<Observation | "refused" | "unavailable"> => {
    const res = await o.send(path, admin);
    if (res.status !== 200) {
      const text = await res.text();
      if (res.status === 404) return { visible: false, events: 0, distinct: 0, orders: 0 };
      if (res.status === 400) return "refused";
      if (res.status >= 500) return "unavailable";
      throw new Error(`GET ${path}: ${res.status} ${text}`);
    }
    const body = (await res.json()) as { profile?: { rfm?: { orders?: number }; seenEvents?: unknown } | null };
    const seen = Array.isArray(body.profile?.seenEvents) ? (body.profile.seenEvents as unknown[]) : [];
    return {
      visible: body.profile != null,
      events: seen.length,
      distinct: new Set(seen).size,
      orders: body.profile?.rfm?.orders ?? 0,
    };
  };
  const judge = (user: string, ob: Observation): Verdict => {
    const orders = expectedOrders.get(user) ?? 0;
    if (ob.events > seenTarget || ob.distinct < ob.events || ob.orders > orders) return "mismatched";
    if (ob.events === seenTarget) return ob.orders === orders ? "exact" : "mismatched";
    return "pending";
  };

  const verdicts = new Map<string, Exclude<Verdict, "pending">>();
  const lastState = new Map<string, string>();
  let queue = completionOrder;
  const baseWindow = pollConcurrency * 2;
  let windowSize = baseWindow;
  const deadline = postEnd + o.drainSeconds * 1000;
  const stallMs = (o.stallSeconds ?? 60) * 1000;
  let lastChange = performance.now();
  let lastVerdict = postEnd;
  logged = performance.now();
  // round robin over the readers not yet reconciled, earliest expected first; a reconciled reader is not read
  // again; rounds grow while every reader in them settles, and shrink and sleep after one that settled nobody
  while (queue.length > 0 && performance.now() < deadline && performance.now() - lastChange < stallMs) {
    const round = queue.slice(0, windowSize);
    const waiting: string[] = [];
    let settled = 0;
    await pool(round, pollConcurrency, async (user) => {
      // the writer's profile alone: one read of the reader's shard (the full right-of-access answer is several)
      const ob = await observe(`/v1/users/${user}?fields=profile`);
      polls++;
      const verdict = typeof ob === "string" ? "pending" : judge(user, ob);
      if (verdict !== "pending") {
        verdicts.set(user, verdict);
        settled++;
        lastVerdict = lastChange = performance.now();
        return;
      }
      const state = typeof ob === "string" || !ob.visible ? "absent" : `${ob.events}/${ob.orders}`;
      if (lastState.get(user) !== state) {
        lastState.set(user, state);
        lastChange = performance.now();
      }
      waiting.push(user);
    });
    queue = [...queue.slice(round.length), ...waiting];
    if (performance.now() - logged > 5000) {
      logged = performance.now();
      log(`drain: ${verdicts.size}/${o.users} readers settled after ${secs(logged - postEnd)} s`);
    }
    if (settled === round.length) windowSize = Math.min(windowSize * 2, 64 * baseWindow);
    else if (settled === 0) {
      windowSize = baseWindow;
      if (queue.length > 0) await sleep(DRAIN_POLL_MS);
    }
  }
  const drainEnd = queue.length === 0 ? lastVerdict : performance.now();
  if (queue.length > 0) {
    const why = performance.now() >= deadline ? "deadline" : `no change for ${stallMs / 1000} s`;
    log(`drain gave up (${why}) with ${queue.length} readers not reconciled`);
  }

  // one more read of every exact reader, untimed: a duplicate applied after it was first seen exact shows here
  const exactUsers = [...verdicts].filter(([, v]) => v === "exact").map(([u]) => u);
  await pool(exactUsers, pollConcurrency, async (user) => {
    let ob = await observe(`/v1/users/${user}?fields=profile`);
    for (let attempt = 0; ob === "unavailable" && attempt < 5; attempt++) {
      await sleep(DRAIN_POLL_MS);
      ob = await observe(`/v1/users/${user}?fields=profile`);
    }
    if (typeof ob === "string" || judge(user, ob) !== "exact") verdicts.set(user, "mismatched");
  });
  const exact = [...verdicts.values()].filter((v) => v === "exact").length;
  const mismatched = verdicts.size - exact + queue.filter((u) => (lastState.get(u) ?? "absent") !== "absent").length;
  const missing = o.users - exact - mismatched;

  // lag: a purchase by a reconciled reader (a fresh one if none), polled on what the reader's next open reads
  let view: LoadTestResult["lag_view"] = "edge";
  const stillExact = exactUsers.filter((u) => verdicts.get(u) === "exact");
  const lags: number[] = [];
  let timeouts = 0;
  const lagTimeoutMs = (o.lagTimeoutSeconds ?? 30) * 1000;
  /** purchases the probes posted per reader: a reader probed again (more probes than readers) counts them too */
  const probed = new Map<string, number>();
  for (let s = 0; s < o.lagSamples; s++) {
    const existing = stillExact[Math.floor((s * stillExact.length) / o.lagSamples)];
    const user = existing ?? `${o.prefix}-probe${s}`;
    const before = (existing ? (expectedOrders.get(existing) ?? 0) : 0) + (probed.get(user) ?? 0);
    probed.set(user, (probed.get(user) ?? 0) + 1);
    const start = performance.now();
    await post([
      {
        id: `${user}-lag${s}`,
        type: "purchase",
        user,
        item: `${o.prefix}-item-1`,
        ts: Math.floor(Date.now() / 1000),
        properties: { price: 2 },
      },
    ]);
    for (;;) {
      const ob = await observe(view === "edge" ? `/v1/users/${user}?view=edge` : `/v1/users/${user}`);
      if (ob === "refused" && view === "edge") {
        view = "authoritative"; // a server without the edge view: the admin profile is the closest reading
        continue;
      }
      if (typeof ob !== "string" && ob.visible && ob.orders > before) {
        lags.push(performance.now() - start);
        break;
      }
      if (performance.now() - start > lagTimeoutMs) {
        lags.push(lagTimeoutMs);
        timeouts++;
        break;
      }
      await sleep(LAG_POLL_MS);
    }
  }

  const postSeconds = secs(postEnd - t0);
  const drainSeconds = secs(drainEnd - postEnd);
  return {
    events: events.length,
    users: o.users,
    events_per_user: o.eventsPerUser,
    requests: requests.length,
    duplicate_batches: o.duplicateBatches,
    backpressure_retries: backoffs,
    accepted,
    post_seconds: postSeconds,
    accepted_per_second: Math.round(accepted / postSeconds),
    drain_seconds: drainSeconds,
    events_per_second_end_to_end: Math.round(events.length / (postSeconds + drainSeconds)),
    reconciled: { exact, mismatched, missing },
    drain_polls: polls,
    lag_view: view,
    lag_ms: summarize(lags),
    lag_timeouts: timeouts,
  };
}
