/**
 * The "temporal-30d" protocol's split, exactly as specified:
 *  cutoff T = latest purchase - testDays; train = time < T, test = time >= T;
 *  candidate items = items with >= 1 train purchase; test users = >= 1 train purchase and >= 1 test
 *  purchase of a candidate item; `all` relevant = distinct candidate items bought in test; `novel` = all
 *  minus the user's train items (users left with none dropped).
 * Items are indexed in popularity order (distinct train buyers desc, StockCode asc), so "lower index
 * first" is the protocol's tie-break. The interaction value is the number of distinct invoices.
 * `end` restricts the log to rows before it: the validation split is the same protocol on train.
 */

import { itemDescriptionsBefore, type PurchaseLog } from "./purchase-log";
import { type Csr, rowIndices } from "./sparse";
import type { TrainData } from "./train-data";

const DAY = 86400;

export interface TemporalSplit {
  cutoff: number;
  /** the latest purchase time considered */
  end: number;
  trainRows: number;
  testRows: number;
  /** candidate items in popularity order: model index -> StockCode */
  itemIds: string[];
  /** per candidate item: distinct train buyers */
  buyers: Int32Array;
  /** users with >= 1 train purchase: row index -> customer id */
  userIds: string[];
  /** row index -> index into log.customerIds */
  userLogIndex: Int32Array;
  /** users x candidate items, value = distinct invoices before the cutoff */
  train: Csr;
  /** per stored value of `train`: last purchase time */
  lastTime: Float64Array;
  testAll: Map<number, Set<number>>;
  testNovel: Map<number, Set<number>>;
}

export function latestTime(log: PurchaseLog, before = Number.POSITIVE_INFINITY): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < log.rows; i++) {
    const t = log.time[i] as number;
    if (t < before && t > max) max = t;
  }
  return max;
}

export function temporalSplit(log: PurchaseLog, testDays = 30, end = Number.POSITIVE_INFINITY): TemporalSplit {
  const last = latestTime(log, end);
  if (!Number.isFinite(last)) throw new Error("no purchases in the log");
  return splitAt(log, last - testDays * DAY, end);
}

/** The same split at an explicit cutoff (`Infinity`: everything before `end` is train, the test is empty). */
export function splitAt(log: PurchaseLog, cutoff: number, end = Number.POSITIVE_INFINITY): TemporalSplit {
  const last = latestTime(log, end);
  if (!Number.isFinite(last)) throw new Error("no purchases in the log");
  // distinct (user, item, invoice) before the cutoff, with the last time per (user, item)
  const trainIdx: number[] = [];
  let testRows = 0;
  for (let i = 0; i < log.rows; i++) {
    const t = log.time[i] as number;
    if (t >= end) continue;
    if (t < cutoff) trainIdx.push(i);
    else testRows++;
  }
  const nLogItems = log.itemIds.length;
  trainIdx.sort((a, b) => {
    const ka = (log.customer[a] as number) * nLogItems + (log.item[a] as number);
    const kb = (log.customer[b] as number) * nLogItems + (log.item[b] as number);
    return ka - kb || (log.invoice[a] as number) - (log.invoice[b] as number);
  });
  const pairUser: number[] = [];
  const pairItem: number[] = [];
  const pairInvoices: number[] = [];
  const pairLast: number[] = [];
  for (let k = 0; k < trainIdx.length; k++) {
    const i = trainIdx[k] as number;
    const prev = k > 0 ? (trainIdx[k - 1] as number) : -1;
    const samePair = prev >= 0 && log.customer[prev] === log.customer[i] && log.item[prev] === log.item[i];
    if (!samePair) {
      pairUser.push(log.customer[i] as number);
      pairItem.push(log.item[i] as number);
      pairInvoices.push(1);
      pairLast.push(log.time[i] as number);
    } else {
      const p = pairUser.length - 1;
      if (log.invoice[prev] !== log.invoice[i]) pairInvoices[p] = (pairInvoices[p] as number) + 1;
      pairLast[p] = Math.max(pairLast[p] as number, log.time[i] as number);
    }
  }
  // candidate items in popularity order
  const buyersByLogItem = new Int32Array(nLogItems);
  for (const it of pairItem) buyersByLogItem[it] = (buyersByLogItem[it] as number) + 1;
  const candidates = [...buyersByLogItem.keys()].filter((it) => (buyersByLogItem[it] as number) > 0);
  candidates.sort(
    (a, b) =>
      (buyersByLogItem[b] as number) - (buyersByLogItem[a] as number) ||
      ((log.itemIds[a] as string) < (log.itemIds[b] as string) ? -1 : 1),
  );
  const itemIndex = new Int32Array(nLogItems).fill(-1);
  candidates.forEach((it, j) => {
    itemIndex[it] = j;
  });
  // users with train purchases, in first-seen order of the log
  const userIndex = new Int32Array(log.customerIds.length).fill(-1);
  const userLogIndex: number[] = [];
  for (const u of pairUser) {
    if (userIndex[u] === -1) {
      userIndex[u] = userLogIndex.length;
      userLogIndex.push(u);
    }
  }
  // CSR (pairs are sorted by log user, so rows come out grouped; re-order columns per row)
  const rows = userLogIndex.length;
  const indptr = new Int32Array(rows + 1);
  for (const u of pairUser) {
    const r = (userIndex[u] as number) + 1;
    indptr[r] = (indptr[r] as number) + 1;
  }
  for (let r = 0; r < rows; r++) indptr[r + 1] = (indptr[r + 1] as number) + (indptr[r] as number);
  const fill = indptr.slice();
  const entries = pairUser.map((u, p) => ({
    r: userIndex[u] as number,
    c: itemIndex[pairItem[p] as number] as number,
    p,
  }));
  entries.sort((a, b) => a.r - b.r || a.c - b.c);
  const indices = new Int32Array(entries.length);
  const data = new Float32Array(entries.length);
  const lastTime = new Float64Array(entries.length);
  for (const e of entries) {
    const at = fill[e.r] as number;
    indices[at] = e.c;
    data[at] = pairInvoices[e.p] as number;
    lastTime[at] = pairLast[e.p] as number;
    fill[e.r] = at + 1;
  }
  const train: Csr = { rows, cols: candidates.length, indptr, indices, data };

  const testAll = new Map<number, Set<number>>();
  for (let i = 0; i < log.rows; i++) {
    const t = log.time[i] as number;
    if (t < cutoff || t >= end) continue;
    const r = userIndex[log.customer[i] as number] as number;
    const c = itemIndex[log.item[i] as number] as number;
    if (r < 0 || c < 0) continue;
    const set = testAll.get(r) ?? new Set<number>();
    set.add(c);
    testAll.set(r, set);
  }
  const testNovel = new Map<number, Set<number>>();
  for (const [r, rel] of testAll) {
    const own = new Set(rowIndices(train, r));
    const novel = new Set([...rel].filter((c) => !own.has(c)));
    if (novel.size) testNovel.set(r, novel);
  }
  return {
    cutoff,
    end: last,
    trainRows: trainIdx.length,
    testRows,
    itemIds: candidates.map((it) => log.itemIds[it] as string),
    buyers: Int32Array.from(candidates.map((it) => buyersByLogItem[it] as number)),
    userIds: userLogIndex.map((u) => log.customerIds[u] as string),
    userLogIndex: Int32Array.from(userLogIndex),
    train,
    lastTime,
    testAll,
    testNovel,
  };
}

/** The split's training data; with the log, each item's text as the rows before the cutoff describe it. */
export function trainData(split: TemporalSplit, log?: PurchaseLog): TrainData {
  let itemText: string[] | undefined;
  if (log) {
    const before = itemDescriptionsBefore(log, Math.min(split.cutoff, split.end + 1));
    const desc = new Map(log.itemIds.map((id, i) => [id, before[i] ?? ""]));
    itemText = split.itemIds.map((id) => desc.get(id) ?? "");
  }
  return { matrix: split.train, lastTime: split.lastTime, itemText, itemIds: split.itemIds };
}
