/**
 * What a fuzz run counts (requests, statuses and reasons per route, time) and the failures it keeps: the
 * smallest request per route, rule and status. `npm run fuzz` reads them from the `FUZZ_FIGURES` line.
 */
import type { RequestSpec, RouteName } from "./arbitraries";
import type { Problem } from "./contract";
import type { Outcome } from "./send";

export interface RouteFigures {
  requests: number;
  statuses: Record<string, number>;
  /** `X-Opentime-Reason` of the answers that have one (shows the personalized path ran) */
  reasons: Record<string, number>;
  ms: number;
}

export interface FailureRecord {
  route: RouteName;
  rule: string;
  status: number;
  detail: string;
  /** the request, long strings shortened */
  request: string;
  /** length of the request's JSON: the smallest is kept */
  size: number;
}

export interface Figures {
  seed: number;
  mode: "assert" | "collect";
  requests: number;
  /** requests the platform itself cannot build (never reach a Worker) */
  unbuildable: number;
  /** 503 EVENTS_UNAVAILABLE answers given while the queue itself refused a probe (allowed) */
  queueRefused: number;
  ms: number;
  routes: Partial<Record<RouteName, RouteFigures>>;
  failures: FailureRecord[];
}

export function newFigures(seed: number, mode: Figures["mode"]): Figures {
  return { seed, mode, requests: 0, unbuildable: 0, queueRefused: 0, ms: 0, routes: {}, failures: [] };
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

export function count(f: Figures, o: Outcome): void {
  const r = f.routes[o.spec.route] ?? { requests: 0, statuses: {}, reasons: {}, ms: 0 };
  f.routes[o.spec.route] = r;
  f.requests++;
  r.requests++;
  bump(r.statuses, String(o.status));
  const reason = o.headers.get("X-Opentime-Reason");
  if (reason) bump(r.reasons, reason.slice(0, 40));
}

/** JSON of the request with every string over 160 characters shortened to its head and length. */
export function summarize(spec: RequestSpec | unknown): string {
  return JSON.stringify(spec, (_k, v) =>
    typeof v === "string" && v.length > 160 ? `${v.slice(0, 80)}...<${v.length} chars>` : v,
  );
}

/** Keeps the smallest failing request per route, rule and status. */
export function keepFailure(f: Figures, o: Outcome, p: Problem): void {
  const request = summarize(o.spec);
  const size = JSON.stringify(o.spec).length;
  const i = f.failures.findIndex((x) => x.route === o.spec.route && x.rule === p.rule && x.status === o.status);
  const rec: FailureRecord = { route: o.spec.route, rule: p.rule, status: o.status, detail: p.detail, request, size };
  if (i < 0) f.failures.push(rec);
  else if ((f.failures[i] as FailureRecord).size > size) f.failures[i] = rec;
}
