/**
 * The load test's verdicts and output, against an in-memory Worker: exact reconciliation, the end-to-end rate
 * formula, lost / never-seen / double-counted events, lag read from the edge view (or the admin profile when a
 * server refuses the view), and the CLI's contract: one JSON line last on stdout, exit 1 unless exact; and the
 * latency summaries it and the bench report.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCode, type LoadTestOptions, resultLine, runLoadTest } from "../../scripts/bench/load-test";
import { summarize } from "../../scripts/bench/stats";

interface Ev {
  id: string;
  type: string;
  user: string;
}

interface FakeOptions {
  /** events the server acknowledges and then drops */
  lose?: (e: Ev) => boolean;
  /** no idempotency: a repeated event id is applied again */
  countRepeats?: boolean;
  /** a batch seen before is held back, per reader, until a read finds this many of its events applied */
  releaseRepeatsAt?: number;
  /** the edge snapshot follows the authoritative profile this much later */
  edgeDelayMs?: number;
  /** answer 400 to `?view=edge`, as a server validating its query would */
  refuseEdgeView?: boolean;
}

const EVENTS_KEY = "ek";
const ADMIN_KEY = "ak";

/**
 * POST /v1/events and GET /v1/users/<id>[?view=edge|?fields=profile], applying events to in-memory counts after
 * a queue hop (`fields=profile`: the authoritative profile alone, as the Worker answers it).
 */
function fakeWorker(f: FakeOptions = {}) {
  type State = { orders: number; seen: string[] };
  const authoritative = new Map<string, State>();
  const edge = new Map<string, State>();
  const seenBatches = new Set<string>();
  const held: Ev[] = [];
  const gets: string[] = [];
  /** per reader: the step of its last change, and the steps of its authoritative reads */
  let step = 0;
  const changedAt = new Map<string, number>();
  const readAt = new Map<string, number[]>();
  const json = (body: unknown, status: number) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  const apply = (e: Ev) => {
    if (f.lose?.(e)) return;
    const p = authoritative.get(e.user) ?? { orders: 0, seen: [] };
    if (!f.countRepeats && p.seen.includes(e.id)) return;
    p.seen.push(e.id);
    if (e.type === "purchase") p.orders++;
    authoritative.set(e.user, p);
    changedAt.set(e.user, ++step);
    const copy = { orders: p.orders, seen: [...p.seen] };
    setTimeout(() => edge.set(e.user, copy), f.edgeDelayMs ?? 0);
  };
  const send = async (path: string, init: RequestInit): Promise<Response> => {
    const auth = new Headers(init.headers).get("Authorization");
    if (path === "/v1/events" && init.method === "POST") {
      if (auth !== `Bearer ${EVENTS_KEY}`) return json({ error: { code: "UNAUTHORIZED" } }, 401);
      const events = (JSON.parse(String(init.body)) as { events: Ev[] }).events;
      const key = events.map((e) => e.id).join();
      if (seenBatches.has(key) && f.releaseRepeatsAt) held.push(...events);
      else setTimeout(() => events.forEach(apply), 5);
      seenBatches.add(key);
      return json({ accepted: events.length, rejected: [] }, 202);
    }
    const m = /^\/v1\/users\/([^/?]+)(\?view=edge|\?fields=profile)?$/.exec(path);
    if (!m?.[1]) return json({ error: { code: "NOT_FOUND" } }, 404);
    if (auth !== `Bearer ${ADMIN_KEY}`) return json({ error: { code: "UNAUTHORIZED" } }, 401);
    gets.push(path);
    const edgeView = m[2] === "?view=edge";
    if (edgeView && f.refuseEdgeView) return json({ error: { code: "BAD_REQUEST" } }, 400);
    const user = m[1];
    if (!edgeView) readAt.set(user, [...(readAt.get(user) ?? []), ++step]);
    const p = (edgeView ? edge : authoritative).get(user);
    if (!p) return json({ error: { code: "NOT_FOUND" } }, 404);
    const answer = json({ user, profile: { rfm: { orders: p.orders }, seenEvents: [...p.seen] }, features: {} }, 200);
    if (!edgeView && f.releaseRepeatsAt && p.seen.length >= f.releaseRepeatsAt) {
      // the reader looks complete: its replays land right after this read
      for (const e of held.filter((e) => e.user === user)) apply(e);
      held.splice(0, held.length, ...held.filter((e) => e.user !== user));
    }
    return answer;
  };
  /** authoritative reads of each reader after its last change */
  const readsAfterLastChange = () =>
    [...readAt].map(([user, steps]) => steps.filter((s) => s > (changedAt.get(user) ?? 0)).length);
  return { send, gets, readsAfterLastChange };
}

const small = (send: LoadTestOptions["send"], more: Partial<LoadTestOptions> = {}): LoadTestOptions => ({
  send,
  eventsKey: EVENTS_KEY,
  adminKey: ADMIN_KEY,
  users: 12,
  eventsPerUser: 100, // 1,200 events: three batches (500, 500, 200), each reader in all three
  concurrency: 2,
  duplicateBatches: 2,
  lagSamples: 4,
  drainSeconds: 20,
  stallSeconds: 1,
  prefix: "t",
  ...more,
});

describe("load test against an in-memory Worker", () => {
  it("reconciles exactly and reports one JSON line whose rate is events / (post_seconds + drain_seconds)", async () => {
    const w = fakeWorker({ edgeDelayMs: 150 });
    const result = await runLoadTest(small(w.send));
    expect(result.reconciled).toEqual({ exact: 12, mismatched: 0, missing: 0 });
    expect(exitCode(result)).toBe(0);
    expect(result).toMatchObject({ events: 1200, users: 12, requests: 5, duplicate_batches: 2, accepted: 2200 });
    expect(result.events_per_second_end_to_end).toBe(
      Math.round(result.events / (result.post_seconds + result.drain_seconds)),
    );
    expect(result.accepted_per_second).toBe(Math.round(result.accepted / result.post_seconds));
    expect(result.post_seconds).toBeGreaterThan(0);
    expect(result.drain_seconds).toBeGreaterThan(0);

    const line = resultLine(result, { at: "2026-01-01T00:00:00.000Z", url: "http://127.0.0.1:8787" });
    for (const c of ["\n", "\r", String.fromCharCode(27)]) expect(line).not.toContain(c); // one line, no colours
    const parsed = JSON.parse(line) as Record<string, unknown>;
    for (const k of [
      "events",
      "users",
      "post_seconds",
      "drain_seconds",
      "reconciled",
      "events_per_second_end_to_end",
      "accepted_per_second",
      "lag_ms",
      "backpressure_retries",
      "duplicate_batches",
    ])
      expect(parsed).toHaveProperty(k);
    expect(parsed.lag_ms).toMatchObject({ n: 4 });
    expect(parsed.url).toBe("http://127.0.0.1:8787");

    // reconciliation reads the authoritative profile, the lag what an open reads (it trails by 150 ms here)
    const edgeReads = w.gets.filter((p) => p.endsWith("?view=edge"));
    expect(w.gets.length - edgeReads.length).toBeGreaterThanOrEqual(12);
    expect(edgeReads.length).toBeGreaterThanOrEqual(4);
    expect(result.lag_view).toBe("edge");
    expect(result.lag_ms.p50).toBeGreaterThanOrEqual(150);
    expect(result.lag_timeouts).toBe(0);
  });

  it("times each lag probe from its own purchase when there are more probes than readers (a reader probed twice)", async () => {
    // 3 readers, 6 probes: each reader buys twice; the second probe must wait for its own purchase (150 ms behind)
    const w = fakeWorker({ edgeDelayMs: 150 });
    const result = await runLoadTest(small(w.send, { users: 3, eventsPerUser: 5, duplicateBatches: 0, lagSamples: 6 }));
    expect(result.reconciled.exact).toBe(3);
    expect(result.lag_ms.n).toBe(6);
    expect(result.lag_timeouts).toBe(0);
    // before: the second probe of a reader saw the first probe's purchase at once (p50 a few ms)
    expect(result.lag_ms.p50).toBeGreaterThanOrEqual(150);
  });

  it("does not read a reader again once reconciled while draining", async () => {
    const w = fakeWorker();
    const result = await runLoadTest(small(w.send, { lagSamples: 0 }));
    expect(result.reconciled.exact).toBe(12);
    // the drain's reads plus one untimed re-read of each exact reader, nothing more
    expect(w.gets.length).toBe(result.drain_polls + 12);
    // once a reader's state is final: the read that finds it exact, then the re-read; never polled again
    expect(w.readsAfterLastChange()).toEqual(Array(12).fill(2));
  });

  it("a server that loses one event: that reader is mismatched and the exit code is 1", async () => {
    const w = fakeWorker({ lose: (e) => e.id === "t-u3-e1" });
    const result = await runLoadTest(small(w.send));
    expect(result.reconciled).toEqual({ exact: 11, mismatched: 1, missing: 0 });
    expect(exitCode(result)).toBe(1);
    // the drain stopped on the stall limit (1 s), not the 20 s deadline
    expect(result.drain_seconds).toBeLessThan(20);
  });

  it("a reader never seen is missing", async () => {
    const w = fakeWorker({ lose: (e) => e.user === "t-u5" });
    const result = await runLoadTest(small(w.send, { lagSamples: 0 }));
    expect(result.reconciled).toEqual({ exact: 11, mismatched: 0, missing: 1 });
    expect(exitCode(result)).toBe(1);
  });

  it("a server that counts replays twice is mismatched, even when a replay lands after the reader looked exact", async () => {
    const early = await runLoadTest(small(fakeWorker({ countRepeats: true }).send, { lagSamples: 0 }));
    expect(early.reconciled).toEqual({ exact: 0, mismatched: 12, missing: 0 });
    const late = await runLoadTest(
      small(fakeWorker({ countRepeats: true, releaseRepeatsAt: 100 }).send, { lagSamples: 0 }),
    );
    expect(late.reconciled).toEqual({ exact: 0, mismatched: 12, missing: 0 });
    expect(exitCode(late)).toBe(1);
  });

  it("measures lag on the admin profile when the server refuses ?view=edge", async () => {
    const w = fakeWorker({ refuseEdgeView: true });
    const result = await runLoadTest(small(w.send));
    expect(result.reconciled.exact).toBe(12);
    expect(result.lag_view).toBe("authoritative");
    expect(result.lag_ms.n).toBe(4);
    expect(result.lag_timeouts).toBe(0);
  });
});

describe("npm run loadtest (the CLI)", () => {
  /** the CLI against the in-memory Worker over HTTP, in a scratch directory (it writes bench/loadtest.json) */
  async function runCli(f: FakeOptions) {
    const w = fakeWorker(f);
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      const answer = await w.send(req.url ?? "/", {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks).toString() : undefined,
      });
      res.writeHead(answer.status, { "Content-Type": "application/json" });
      res.end(await answer.text());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const cwd = await mkdtemp(join(tmpdir(), "ot-loadtest-"));
    const root = new URL("../..", import.meta.url).pathname;
    try {
      return await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(
          join(root, "node_modules/.bin/tsx"),
          [
            join(root, "scripts/bench/load-test-cli.ts"),
            ...["--url", `http://127.0.0.1:${port}`, "--users", "6", "--events-per-user", "5"],
            ...["--lag-samples", "2", "--duplicate-batches", "1", "--stall-seconds", "1", "--drain-seconds", "20"],
          ],
          { cwd, env: { ...process.env, EVENTS_API_KEYS: EVENTS_KEY, ADMIN_API_KEYS: ADMIN_KEY, FORCE_COLOR: "1" } },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
          stdout += d;
        });
        child.stderr.on("data", (d) => {
          stderr += d;
        });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
    } finally {
      server.close();
      await rm(cwd, { recursive: true, force: true });
    }
  }

  it("ends stdout with exactly one JSON object and exits 0 when every reader reconciled", async () => {
    const out = await runCli({});
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.split("\n").filter((l) => l !== "");
    const last = lines.at(-1) ?? "";
    expect(last.startsWith("{") && last.endsWith("}")).toBe(true);
    const parsed = JSON.parse(last) as { events: number; users: number; reconciled: unknown };
    expect(parsed).toMatchObject({ events: 30, users: 6, reconciled: { exact: 6, mismatched: 0, missing: 0 } });
    expect(out.stderr).toMatch(/reconciled 6\/6 exactly/);
  });

  it("exits 1 when an event is lost, still ending with the JSON line", async () => {
    const out = await runCli({ lose: (e) => e.id.endsWith("-u2-e3") });
    expect(out.code).toBe(1);
    const last = out.stdout.trim().split("\n").at(-1) ?? "";
    expect(JSON.parse(last)).toMatchObject({ reconciled: { exact: 5, mismatched: 1, missing: 0 } });
  });
});

describe("latency summaries", () => {
  it("take nearest-rank percentiles, and give no figure at all (null in the JSON) for no samples", () => {
    const ms = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarize(ms)).toEqual({ n: 100, mean: 50.5, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(summarize([7])).toEqual({ n: 1, mean: 7, p50: 7, p95: 7, p99: 7, max: 7 });
    expect(JSON.parse(JSON.stringify(summarize([])))).toEqual({
      n: 0,
      mean: null,
      p50: null,
      p95: null,
      p99: null,
      max: null,
    });
  });
});
