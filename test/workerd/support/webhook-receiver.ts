/**
 * What the trigger tests share: a webhook receiver (globalThis.fetch answered by the test for one URL, every
 * call kept), the admin API called without a server, the reader shard's alarm run as the runtime would, and
 * time passed by moving a reader's pending deliveries to now.
 */
import {
  createExecutionContext,
  env,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { vi } from "vitest";
import { DELIVERY_HEADER, SIGNATURE_HEADER } from "../../../core/webhook-signature";
import worker from "../../../worker/index";
import type { ReaderShard } from "../../../worker/state/reader-shard";
import { readerStub } from "../../../worker/state/shard-routing";
import { TEST_ADMIN_KEY } from "../fixture";

export interface Call {
  body: string;
  signature: string | null;
  delivery: string | null;
  /** the call's User-Agent (absent: a call the test made up) */
  userAgent?: string | null;
}

/**
 * Keeps every call to `hook` in `calls` and answers it with `answer()`; other URLs go out as they would. A
 * redirect is followed as fetch follows one unless the request said `redirect: "manual"` (a 307 or 308 sends the
 * same method and body on).
 */
export function receiveWebhooks(hook: string, calls: Call[], answer: () => Response): void {
  const real = globalThis.fetch;
  const receive = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = new Request(input as RequestInfo, init);
    if (!req.url.startsWith(hook)) return real(input as RequestInfo, init);
    const body = await req.text();
    calls.push({
      body,
      signature: req.headers.get(SIGNATURE_HEADER),
      delivery: req.headers.get(DELIVERY_HEADER),
      userAgent: req.headers.get("User-Agent"),
    });
    const res = answer();
    const location = res.headers.get("Location");
    if (req.redirect !== "follow" || !location || ![307, 308].includes(res.status)) return res;
    return receive(new URL(location, req.url), { method: req.method, headers: req.headers, body });
  };
  vi.spyOn(globalThis, "fetch").mockImplementation(receive);
}

const admin = { Authorization: `Bearer ${TEST_ADMIN_KEY}`, "Content-Type": "application/json" };

/** An admin API request (the Worker's fetch, its background work awaited). */
export async function adminRequest(path: string, method: string, body?: unknown): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`https://opentime.test${path}`, {
      method,
      headers: admin,
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

/**
 * Runs the reader's shard alarm (as the runtime does when it is due) until `done`, or a second passed and it ran
 * ALARM_RUNS times at least: on a loaded machine a run can take a good part of that second, and a test that waits
 * for a send must still see the runs it needs (one that checks nothing is sent waits as long on a fast one).
 */
export async function runAlarmsUntil(user: string, done: () => boolean): Promise<void> {
  const stub = readerStub(env, user);
  const start = Date.now();
  let runs = 0;
  do {
    await runDurableObjectAlarm(stub);
    runs++;
    if (done()) return;
    await new Promise((r) => setTimeout(r, 20));
  } while (Date.now() - start < 1000 || runs < ALARM_RUNS);
}

/** The alarm runs runAlarmsUntil makes at least, however long they take. */
const ALARM_RUNS = 10;

/** Moves the reader's pending deliveries' time to now: the minutes (or a retry's back-off) have passed. */
export function timePasses(user: string): Promise<void> {
  return runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
    state.storage.sql.exec("UPDATE triggers SET next_at = ? WHERE user = ?", Date.now() - 1, user);
  });
}
