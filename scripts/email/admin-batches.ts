/**
 * The admin API's batched POSTs `npm run email` makes (the suppression check, the subject lines, the sends'
 * recording): each batch's JSON body POSTed to one route with the admin key, 30 s at most each, one after the
 * other, and its answer read. A batch that cannot be sent, is refused (not 2xx), or whose answer `read` cannot
 * read ends the run with the caller's own error (`fail`), told which of the three and how many batches were done;
 * `problemText` puts the problem in words for that error. A batch answered 503 or 429 (a passing failure: KV, a
 * reader's shard, the queue) is sent again after its Retry-After, up to RETRIES times (the Worker's own 503 without
 * one, a deploy lacking what the route needs, is not sent again): each of these routes may be
 * sent the same batch again (a check reads; a reader keeps their arm; a send recorded again within 20 hours is the
 * same send).
 */

/** Why a batch failed: not sent, refused (its status and the answer's start), or an answer not read. */
export type BatchProblem =
  | { kind: "unreachable"; message: string }
  | { kind: "refused"; status: number; text: string }
  | { kind: "unreadable"; text: string };

/**
 * The problem in words, for the caller's error: why a batch was not sent, the status of a refusal (with what
 * `older` says of it: a Worker older than this builder) and the answer's start, or the start of an answer not read.
 */
export function problemText(p: BatchProblem, older: Readonly<Record<number, string>> = {}): string {
  // nothing answers there: most often the local Worker is not running
  if (p.kind === "unreachable")
    return `${p.message}: is the Worker running there? locally npm run dev; --api-url <origin> names another`;
  if (p.kind === "unreadable") return `an answer this version does not read: ${p.text}`;
  return `${p.status}${older[p.status] ?? ""}: ${p.text.slice(0, 200)}`;
}

/** How long one batch may take. */
const BATCH_TIMEOUT_MS = 30_000;
/** How often a batch answered 503 or 429 is sent again, and the longest Retry-After waited for (KV's daily
 *  allowance asks for hours: that refusal ends the run at once). Without Retry-After: 1 s, 2 s, 4 s. */
const RETRIES = 3;
const MAX_RETRY_AFTER_S = 30;

/** Whether `text` is the Worker's own error answer (`{"error":{"code":...}}`, worker/errors.ts). */
function isWorkerError(text: string): boolean {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } } | null)?.error?.code;
    return typeof code === "string";
  } catch {
    return false;
  }
}

/**
 * Seconds to wait before sending a batch again after `res` (answered `text`), or null when it is not to be sent
 * again. The Worker answers every passing failure with Retry-After; its own 503 without one is a deploy without what
 * the route needs (no EVENTS queue: EVENTS_UNAVAILABLE), which no retry mends. A 503 or 429 without Retry-After from
 * something in front of it (a proxy's page) is sent again after 1, 2, 4 s.
 */
function retryAfter(res: Response, text: string, attempt: number): number | null {
  if ((res.status !== 503 && res.status !== 429) || attempt >= RETRIES) return null;
  const header = res.headers.get("Retry-After");
  if (header === null) return isWorkerError(text) ? null : 2 ** attempt;
  const seconds = /^\d{1,9}$/.test(header.trim()) ? Number(header.trim()) : Number.NaN;
  return seconds <= MAX_RETRY_AFTER_S ? seconds : null;
}

/** The answers, in the batches' order. */
export async function postBatches<T>(
  apiBase: string,
  path: string,
  key: string,
  bodies: readonly unknown[],
  read: (json: unknown) => T,
  fail: (problem: BatchProblem, url: string, done: number) => Error,
): Promise<T[]> {
  const url = `${apiBase.replace(/\/+$/, "")}${path}`;
  const out: T[] = [];
  for (const body of bodies) {
    let res: Response;
    let text: string;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(BATCH_TIMEOUT_MS),
        });
        text = await res.text();
      } catch (e) {
        throw fail({ kind: "unreachable", message: (e as Error).message }, url, out.length);
      }
      const wait = retryAfter(res, text, attempt);
      if (wait === null) break;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
    if (!res.ok) throw fail({ kind: "refused", status: res.status, text: text.slice(0, 300) }, url, out.length);
    try {
      out.push(read(JSON.parse(text)));
    } catch {
      throw fail({ kind: "unreadable", text: text.slice(0, 200) }, url, out.length);
    }
  }
  return out;
}

/** Items in batches of `size`. */
export function batchesOf<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
