/**
 * One ranking per block open: a row's 3 images (a grid's 4) are fetched together when the email opens, and
 * each slot shows item i of the same ranking (the same campaign block, chosen once). The first slot's request
 * computes it; the others, in the same isolate within a few seconds, share it (even while it is still being
 * computed) instead of running the model again. Keyed by reader, send (campaign and token expiry), block size
 * and the open's facts (who fetched, from where: a block's conditions may test them); bounded, and short-lived
 * so a later re-open (under `live`) decides afresh.
 *
 * A ranking still being computed belongs to the request that started it: if that one is cancelled (a mail proxy
 * dropping one image of the row), its reads never settle. So a request that shares it waits at most
 * SHARE_WAIT_MS of its own, then (or when the shared one fails) computes its own.
 */
import type { ServedBlock } from "../campaigns/serve-block";
import { within } from "../lib/within";

const TTL_MS = 5_000;
const MAX_ENTRIES = 2_000;
/** How long a slot waits for a ranking another request computes before it computes its own. */
export const SHARE_WAIT_MS = 1_500;

const memo = new Map<string, { at: number; rec: Promise<ServedBlock> }>();
let hits = 0;
let misses = 0;

/** The block's shared ranking, computed by `compute` when no fresh one is held (`campaign`: the send's key). */
export function blockRanking(
  key: { user: string; campaign: string; slots: number; open?: string },
  now: number,
  compute: () => Promise<ServedBlock>,
  waitMs = SHARE_WAIT_MS,
): Promise<ServedBlock> {
  const id = `${key.slots}|${key.campaign}|${key.open ?? ""}|${key.user}`;
  const held = memo.get(id);
  if (held && now - held.at < TTL_MS) {
    hits++;
    return orOwn(held.rec, waitMs, () => {
      // the shared one is stuck or failed: this slot's own ranking is the one the slots still to come share
      const own = compute();
      if (memo.get(id) === held) {
        memo.set(id, { at: now, rec: own });
        own.catch(() => {
          if (memo.get(id)?.rec === own) memo.delete(id);
        });
      }
      return own;
    });
  }
  misses++;
  const rec = compute();
  memo.delete(id);
  memo.set(id, { at: now, rec });
  // a failed computation is not shared: the next slot tries again
  rec.catch(() => {
    if (memo.get(id)?.rec === rec) memo.delete(id);
  });
  if (memo.size > MAX_ENTRIES) {
    for (const [k, v] of memo) {
      if (memo.size <= MAX_ENTRIES && now - v.at < TTL_MS) break;
      memo.delete(k); // oldest first (insertion order)
    }
  }
  return rec;
}

/** `shared` if it settles within `waitMs` (this request's own timer), else (or if it fails) `compute()`. */
async function orOwn(shared: Promise<ServedBlock>, waitMs: number, compute: () => Promise<ServedBlock>) {
  const first = await within(
    shared.catch(() => null),
    waitMs,
    () => null,
  );
  return first ?? compute();
}

/** For tests: how many rankings were shared and computed since the last reset. */
export function blockMemoStats(): { hits: number; misses: number } {
  return { hits, misses };
}

export function resetBlockMemo(): void {
  memo.clear();
  hits = 0;
  misses = 0;
}
