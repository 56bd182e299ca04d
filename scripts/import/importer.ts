/**
 * Loads a historical log into profiles through the Worker's admin events API (`POST /v1/admin/events`),
 * so history goes through the same validation, queue and idempotent consumer as live events: consent and
 * real-time state are respected, and a replay (resume after a crash) counts nothing twice.
 * UCI Online Retail / II purchase lines become purchase events (id `<invoice>:<stock code>`, and for a later line of
 * the same invoice and item `<invoice>:<stock code>:2`, `:3`..., in file order); the project's events CSV is
 * imported as it is, its times read as train reads them (seconds, milliseconds or dates). Events are sent grouped by
 * user (fewer profile writes), in batches of 500, a few requests at a time; a checkpoint file makes the import resumable. The checkpoint names the
 * file's content (its SHA-256) and the batching: a file changed under the same name starts again rather than skip
 * what the old one had sent. It is written whole (a temporary file, then a rename) by one writer at a time, and
 * deleted when the import completes.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import { csvLines, readCsvHeader } from "../data/csv-input";
import {
  customerId,
  type DateOrder,
  isPlaceholderId,
  isPlaceholderItem,
  isRoundedId,
  MORE_FIELDS,
  parseTimes,
  ROUNDED_EVENT,
  unservableRow,
} from "../data/interaction-log";
import { checkNumbers, checkPurchasesLeft, checkReadable, refuseEmailIds } from "../data/log-checks";
import { layoutColumns, layoutOf, readPurchaseLog } from "../data/purchase-log";
import { TimeColumn } from "../data/time-column";

export interface ApiEvent {
  id: string;
  type: string;
  user: string;
  item?: string;
  ts: number;
  properties?: Record<string, number>;
}

export interface ImportOptions {
  data: string;
  url: string;
  adminKey: string;
  /** the order of day-and-month dates no date of the file settles (`--date-order`) */
  dateOrder?: DateOrder;
  batchSize?: number;
  concurrency?: number;
  checkpoint?: string;
  onProgress?: (sentBatches: number, totalBatches: number) => void;
  /** what the run decided on its own (a checkpoint set aside) */
  log?: (msg: string) => void;
  /** once the file is read and found usable, before the first batch: that the Worker answers and takes the key */
  beforeSending?: () => Promise<void>;
  /** how long one batch's request may take, its answer read (ms; REQUEST_TIMEOUT_MS): past it, it is sent again */
  requestTimeoutMs?: number;
}

/**
 * How long one batch's request may take before it is sent again (ms). A batch of 500 is answered in well under a
 * second; a Worker that hangs (a stalled connection, a dev server paused in a debugger) must not stall the import
 * for good. A batch sent again is taken once: its events' ids are the same (the consumer is idempotent).
 */
export const REQUEST_TIMEOUT_MS = 60_000;

/** How far an import of one file's content, batched one way, got: batches `0..done-1` were all accepted. */
const CheckpointSchema = z.object({
  data: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  batchSize: z.number().int().positive(),
  batches: z.number().int().nonnegative(),
  done: z.number().int().nonnegative(),
});
type Checkpoint = z.infer<typeof CheckpointSchema>;

/** SHA-256 of a file's bytes, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

/**
 * Where an earlier run of this import stopped: its `done` when the checkpoint is for the same content and batching,
 * else 0 with why (none there, unreadable, or another file's or batching's).
 */
async function resumeFrom(path: string, expected: Omit<Checkpoint, "done">): Promise<{ done: number; why?: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { done: 0 };
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { done: 0, why: "is not JSON" };
  }
  const cp = CheckpointSchema.safeParse(parsed);
  if (!cp.success) return { done: 0, why: "is not a checkpoint this importer wrote (or an older one)" };
  if (cp.data.sha256 !== expected.sha256) return { done: 0, why: "is for other content under that name" };
  if (cp.data.batchSize !== expected.batchSize || cp.data.batches !== expected.batches)
    return {
      done: 0,
      why: `is for ${cp.data.batches} batches of ${cp.data.batchSize}, not ${expected.batches} of ${expected.batchSize}`,
    };
  if (cp.data.done > expected.batches) return { done: 0, why: "counts more batches done than there are" };
  return { done: cp.data.done };
}

/**
 * Writes checkpoints one at a time, in the order asked (so the last written is the furthest), each whole: a temporary
 * file renamed over the checkpoint, never a half-written one.
 */
function checkpointWriter(path: string) {
  let queue: Promise<void> = Promise.resolve();
  const tmp = `${path}.${process.pid}.tmp`;
  return {
    write(cp: Checkpoint): Promise<void> {
      queue = queue.then(async () => {
        await writeFile(tmp, JSON.stringify(cp));
        await rename(tmp, path);
      });
      return queue;
    },
    /** waits for the writes asked so far */
    settled: () => queue,
  };
}

export interface ImportSummary {
  data: string;
  layout: string;
  rows_read: number;
  dropped_by_loader: Record<string, number>;
  events: number;
  users: number;
  batches: number;
  resumed_from_batch: number;
  accepted: number;
  rejected: Record<string, number>;
  seconds: number;
  accepted_per_second: number;
}

async function loadEvents(
  path: string,
  dateOrder?: DateOrder,
): Promise<{ layout: string; read: number; dropped: Record<string, number>; events: ApiEvent[] }> {
  // the layout as train decides it (any separator, names in any case): an events file's every type is imported
  if (layoutOf(await readCsvHeader(path)) === "opentime-events") {
    const events: ApiEvent[] = [];
    let read = 0;
    const dropped: Record<string, number> = {};
    const rawTimes = new TimeColumn();
    // as train reads the file (a byte-order mark is no part of the first column's name)
    for await (const { record: r, line, longer } of csvLines(path, layoutColumns)) {
      read++;
      if (longer) {
        dropped[MORE_FIELDS] = (dropped[MORE_FIELDS] ?? 0) + 1;
        continue;
      }
      // each cell as train reads it: trimmed, an export's word for no value none (isPlaceholderId), a customer id a
      // spreadsheet wrote as a float its whole number (customerId), so imported history lands in the profiles the
      // trained model names
      const [id, rawUser, type, ts, rawItem] = [r.event_id, r.user_id, r.type, r.ts, r.item_id].map((v) => v?.trim());
      const user = rawUser && !isPlaceholderId(rawUser) ? customerId(rawUser) : "";
      if (!id || !user || !type || !ts) {
        dropped["missing field"] = (dropped["missing field"] ?? 0) + 1;
        continue;
      }
      const item = rawItem && !isPlaceholderItem(rawItem) ? rawItem : undefined;
      // ids the Worker would refuse, or a spreadsheet rounded, as train drops them; an event id rounded too
      const unservable = unservableRow(user, item) ?? (isRoundedId(id) ? ROUNDED_EVENT : null);
      if (unservable) {
        dropped[unservable] = (dropped[unservable] ?? 0) + 1;
        continue;
      }
      events.push({ id, type, user, item, ts: 0 });
      rawTimes.push(ts, line);
    }
    // times read as train reads them (dates too, one day/month order for the file), once the whole file is seen
    // a time before 1970 is no event's: unreadable here
    const { times, unreadable } = rawTimes.parse(
      (texts) => parseTimes(path, texts, dateOrder),
      (t) => Number.isFinite(t) && t >= 0,
    );
    const kept = events.flatMap((e, i) => {
      const t = times[i] as number;
      return Number.isFinite(t) ? [{ ...e, ts: Math.floor(t) }] : [];
    });
    if (kept.length < events.length) dropped["bad time"] = events.length - kept.length;
    // refused as train refuses the file, before anything is sent
    checkReadable(path, { read, dropped, unreadableTime: unreadable, time: kept.map((e) => e.ts) });
    if (read === 0) throw new Error(`${path} has a header and no rows`);
    if (kept.length === 0)
      throw new Error(
        `none of the ${read} rows of ${path} is an event that can be sent: ` +
          Object.entries(dropped)
            .map(([why, n]) => `${n} ${why}`)
            .join(", ") +
          " (each needs event_id, user_id, type and ts)",
      );
    refuseEmailIds(path, "user_id", [...new Set(kept.map((e) => e.user))]);
    refuseEmailIds(
      path,
      "event_id",
      kept.map((e) => e.id),
      "event id",
    );
    return { layout: "opentime-events", read, dropped, events: kept };
  }
  const log = await readPurchaseLog(path, { dateOrder });
  checkReadable(path, log);
  checkNumbers(path, log);
  checkPurchasesLeft(path, log, "import");
  refuseEmailIds(path, log.layout === "online-retail-ii" ? "Customer ID" : "CustomerID", log.customerIds);
  const events: ApiEvent[] = [];
  // lines of one invoice with the same item are separate purchases: the first keeps the id earlier imports gave it
  // (so re-importing stays idempotent), later ones are numbered in file order (the reader keeps the file's order)
  const lines = new Map<string, number>();
  for (let i = 0; i < log.rows; i++) {
    const pair = `${log.invoiceIds[log.invoice[i] as number]}:${log.itemIds[log.item[i] as number]}`;
    const n = (lines.get(pair) ?? 0) + 1;
    lines.set(pair, n);
    events.push({
      id: n === 1 ? pair : `${pair}:${n}`,
      type: "purchase",
      user: log.customerIds[log.customer[i] as number] as string,
      item: log.itemIds[log.item[i] as number],
      ts: Math.floor(log.time[i] as number),
      properties: { price: log.price[i] as number, quantity: log.quantity[i] as number },
    });
  }
  // (an invoice number shaped like an email address would make one of these ids)
  refuseEmailIds(
    path,
    log.layout === "online-retail-ii" ? "Invoice" : "InvoiceNo",
    events.map((e) => e.id),
    "event id",
  );
  return { layout: log.layout, read: log.read, dropped: log.dropped, events };
}

/**
 * A failure before anything was sent: the file's (unreadable, nothing to send, times misread, email addresses for
 * ids) or the Worker's (`beforeSending`: not there, or refusing the key). Rerunning as it is changes nothing, unlike
 * a failure while sending, which a rerun resumes.
 */
export class NothingSentError extends Error {}

/** A request that got no answer (refused, reset, timed out), as a failed attempt to retry. */
function failedRequest(e: Error): Response {
  return { ok: false, status: 0, statusText: e.message, json: async () => ({}) } as unknown as Response;
}

export async function importLog(opts: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const batchSize = opts.batchSize ?? 500;
  const nothingSent = (e: Error) => {
    throw new NothingSentError(e.message, { cause: e });
  };
  const { layout, read, dropped, events } = await loadEvents(opts.data, opts.dateOrder).catch(nothingSent);
  await opts.beforeSending?.().catch(nothingSent);
  // grouped by user, then time: each user's history arrives together
  events.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : a.ts - b.ts));
  const batches: ApiEvent[][] = [];
  for (let i = 0; i < events.length; i += batchSize) batches.push(events.slice(i, i + batchSize));
  const checkpoint =
    opts.checkpoint ??
    `build/import/${createHash("sha1").update(opts.data).digest("hex").slice(0, 12)}.checkpoint.json`;
  const identity = { data: opts.data, sha256: await fileSha256(opts.data), batchSize, batches: batches.length };
  const { done: resumed, why } = await resumeFrom(checkpoint, identity);
  if (why) opts.log?.(`checkpoint ${checkpoint} ${why}: starting again from the first batch`);
  await mkdir(dirname(checkpoint), { recursive: true });
  const writer = checkpointWriter(checkpoint);
  let accepted = 0;
  const rejected: Record<string, number> = {};
  let next = resumed;
  let contiguous = resumed;
  const finished = new Set<number>();
  const send = async (b: number) => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${opts.url}/v1/admin/events`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${opts.adminKey}` },
        body: JSON.stringify({ events: batches[b] }),
        signal: AbortSignal.timeout(opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS),
      }).catch(failedRequest);
      // the answer's body is read under the same timeout: a body cut off or stalled is a failed attempt
      const body =
        res.status === 202 || res.status === 400
          ? ((await res.json().catch(() => null)) as {
              accepted?: number;
              rejected?: { code: string }[];
              error?: { code: string; message: string };
            } | null)
          : null;
      if (body) {
        // a batch none of whose events is valid (INVALID_EVENTS) is counted like any other's rejections: one
        // reader's history under a bad id must not end the import; any other error ends it
        if (body.error && body.error.code !== "INVALID_EVENTS")
          throw new Error(`batch ${b}: ${body.error.code}: ${body.error.message}`);
        accepted += body.accepted ?? 0;
        for (const r of body.rejected ?? []) rejected[r.code] = (rejected[r.code] ?? 0) + 1;
        return;
      }
      if (res.status === 401) throw new Error("the admin API key was refused (ADMIN_API_KEYS)");
      if (attempt >= 5) throw new Error(`batch ${b} failed ${attempt + 1} times: HTTP ${res.status} ${res.statusText}`);
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
  };
  const worker = async () => {
    while (next < batches.length) {
      const b = next++;
      await send(b);
      finished.add(b);
      while (finished.has(contiguous)) finished.delete(contiguous++);
      await writer.write({ ...identity, done: contiguous });
      opts.onProgress?.(contiguous, batches.length);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  // every batch accepted: nothing to resume
  await writer.settled();
  await rm(checkpoint, { force: true });
  const seconds = (performance.now() - started) / 1000;
  return {
    data: opts.data,
    layout,
    rows_read: read,
    dropped_by_loader: dropped,
    events: events.length,
    users: new Set(events.map((e) => e.user)).size,
    batches: batches.length,
    resumed_from_batch: resumed,
    accepted,
    rejected,
    seconds: Math.round(seconds * 10) / 10,
    accepted_per_second: Math.round(accepted / seconds),
  };
}
