/**
 * What the trainers learn from, from either kind of log:
 *  - purchase logs (UCI Online Retail / II, or the events file's purchases): interaction value = distinct
 *    invoices, items in popularity order, item text = descriptions;
 *  - typed event logs (the demo's events.csv, or any CSV mapped with --map): value = summed event weights,
 *    item text from a catalog file.
 * Both give the full window and a validation split (the last `holdoutDays`) to tune on. The purchase log is
 * always read too: segments, propensity, send time and purchase histories come from purchases.
 */
import { readFile } from "node:fs/promises";
import { NO_CURRENCY } from "../../core/campaign";
import { type CatalogItem, CatalogItemSchema } from "../../core/catalog";
import { fieldPath } from "../../core/field-path";
import { readCsvHeader } from "../data/csv-input";
import {
  type ColumnMapping,
  type DateOrder,
  DEMO_EVENTS_MAPPING,
  type InteractionLog,
  readInteractionLog,
} from "../data/interaction-log";
import {
  checkInteractionsLeft,
  checkNumbers,
  checkPurchasesLeft,
  checkReadable,
  refuseEmailIds,
} from "../data/log-checks";
import { detectLayout, layoutOf, type PurchaseLog, readPurchaseLog } from "../data/purchase-log";
import { csrFromCoo, rowIndices } from "../data/sparse";
import { latestTime, splitAt, temporalSplit, trainData } from "../data/temporal-split";
import type { TrainData } from "../data/train-data";

const DAY = 86400;

export interface Window {
  data: TrainData;
  itemIds: string[];
  userIds: string[];
  /** end of the training window (unix s) */
  end: number;
}

export interface Validation extends Window {
  relevantAll: Map<number, Set<number>>;
  relevantNovel: Map<number, Set<number>>;
  /**
   * what the top score's calibration (topProbability: that the reader buys the top item) is fitted on, where it is not
   * `data` and `relevantAll` (an event log, whose interactions are views and carts as well as purchases): the purchases
   * before the cutoff (the Worker leaves out the items bought in the 30 days before it), those in the window, and the
   * readers with a vector
   */
  calibration?: { data: TrainData; bought: Map<number, Set<number>>; readers: (user: number) => boolean };
}

export interface TrainingSet {
  source: "purchases" | "events";
  purchases: PurchaseLog;
  full: Window;
  validation: Validation | null;
  /**
   * the same split one window before the validation's (purchase logs that reach back that far): the ranker learns
   * from it too
   */
  earlier: Validation | null;
  /** the same split one window before `earlier` (logs that reach back that far): the ranker's forward check reads it */
  older: Validation | null;
  catalog: CatalogItem[];
  /** the log's first interaction (unix s); `full.end` is its last */
  start: number;
  /** data rows of the log read, and those dropped while reading, by reason */
  read: number;
  dropped: Record<string, number>;
}

export interface TrainingSetOptions {
  data: string;
  /** for event logs: how to read the CSV (default: the demo's events.csv columns) */
  mapping?: ColumnMapping;
  /** JSON array of catalog items (title, category, price, image, url) */
  catalog?: string;
  holdoutDays?: number;
  currency?: string;
  /** the order of day-and-month dates no date of the log settles (`--date-order`) */
  dateOrder?: DateOrder;
}

export async function loadTrainingSet(opts: TrainingSetOptions): Promise<TrainingSet> {
  const holdout = opts.holdoutDays ?? 30;
  // the layout from the header as the CSV parser reads it (quoted names too), as the evaluation decides it
  const header = await readCsvHeader(opts.data);
  if (header.length === 0) throw new Error(`${opts.data} is empty: no header row, no rows`);
  const layout = layoutOf(header);
  const catalogFile = opts.catalog ? await readCatalog(opts.catalog) : new Map<string, CatalogItem>();
  // a purchase log by its header, unless --map says how to read the file (a shop's own item codes in a UCI layout)
  if (!opts.mapping && (layout === "online-retail" || layout === "online-retail-ii")) {
    const purchases = await readPurchaseLog(opts.data, { dateOrder: opts.dateOrder });
    checkReadable(opts.data, purchases);
    checkNumbers(opts.data, purchases);
    checkPurchasesLeft(opts.data, purchases, "train");
    refuseEmailIds(opts.data, layout === "online-retail" ? "CustomerID" : "Customer ID", purchases.customerIds);
    const full = splitAt(purchases, Number.POSITIVE_INFINITY);
    const last = latestTime(purchases);
    const val = temporalSplit(purchases, holdout);
    const window = (s: typeof full, end: number): Window => ({
      data: trainData(s, purchases),
      itemIds: s.itemIds,
      userIds: s.userIds,
      end,
    });
    const before = val.testAll.size > 0 ? earlierSplit(purchases, val.cutoff, holdout) : null;
    const older = before ? earlierSplit(purchases, before.cutoff, holdout) : null;
    const judged = (s: NonNullable<typeof before>): Validation => ({
      ...window(s, s.cutoff),
      relevantAll: s.testAll,
      relevantNovel: s.testNovel,
    });
    const prices = medianPrices(purchases);
    const descriptions = new Map(purchases.itemIds.map((id, i) => [id, purchases.itemDescriptions[i] ?? ""]));
    // the log's items the catalog file lacks are priced in --currency, else in the catalog's own when all its items
    // share one (a shop in euros is not shown pounds for the products its catalog no longer lists), else in GBP
    const catalogCurrencies = new Set([...catalogFile.values()].map((c) => c.currency));
    const currency = opts.currency ?? (catalogCurrencies.size === 1 ? [...catalogCurrencies][0] : undefined) ?? "GBP";
    return {
      source: "purchases",
      purchases,
      full: window(full, last),
      validation:
        val.testAll.size > 0
          ? { ...window(val, val.cutoff), relevantAll: val.testAll, relevantNovel: val.testNovel }
          : null,
      earlier: before && judged(before),
      older: older && judged(older),
      catalog: full.itemIds.map(
        (id) =>
          catalogFile.get(id) ?? {
            id,
            title: titleCase(descriptions.get(id) || id),
            category: "",
            price: prices.get(id) ?? 0,
            currency,
            image: "",
            url: "",
          },
      ),
      start: earliest(purchases.time),
      read: purchases.read,
      dropped: purchases.dropped,
    };
  }
  const mapping = opts.mapping ?? DEMO_EVENTS_MAPPING;
  if (!layout && !opts.mapping && !Object.values(mapping).every((c) => header.includes(c))) {
    try {
      detectLayout(header, opts.data);
    } catch (e) {
      throw new Error(`${(e as Error).message}; or name a typed event log's columns with --map user=...,item=...`);
    }
  }
  // an events file's purchases (segments, propensity, send time), or a mapped log's rows of type purchase; a log of
  // weights alone names none
  const typed = opts.mapping?.type ? { ...opts.mapping, type: opts.mapping.type } : undefined;
  const purchases = typed
    ? await readPurchaseLog(opts.data, { mapping: typed, dateOrder: opts.dateOrder })
    : layout === "opentime-events"
      ? await readPurchaseLog(opts.data, { dateOrder: opts.dateOrder })
      : emptyPurchases();
  const events = await readInteractionLog(opts.data, { mapping, dateOrder: opts.dateOrder });
  checkReadable(opts.data, events);
  checkInteractionsLeft(opts.data, events);
  refuseEmailIds(opts.data, mapping.user, events.userIds);
  let last = 0;
  for (const t of events.time) last = Math.max(last, t);
  const catalog = events.itemIds.map(
    (id) =>
      catalogFile.get(id) ?? {
        id,
        title: id,
        category: "",
        // an event log gives no price: no currency, so the Worker's cards show none rather than a price of 0.00
        price: 0,
        currency: NO_CURRENCY,
        image: "",
        url: "",
      },
  );
  const itemText = catalog.map((c) => {
    const extra = catalogFile.get(c.id) as (CatalogItem & { description?: string }) | undefined;
    return `${c.title} ${c.category} ${c.category} ${extra?.description ?? ""}`;
  });
  const window = (until: number): Window => ({
    data: { ...eventMatrix(events, until), itemText },
    itemIds: events.itemIds,
    userIds: events.userIds,
    end: Math.min(until, last),
  });
  const cut = last - holdout * DAY;
  const val = window(cut);
  const relevantAll = new Map<number, Set<number>>();
  for (let i = 0; i < events.rows; i++) {
    if ((events.time[i] as number) < cut) continue;
    const u = events.user[i] as number;
    if (rowIndices(val.data.matrix, u).length === 0) continue;
    const set = relevantAll.get(u) ?? new Set<number>();
    set.add(events.item[i] as number);
    relevantAll.set(u, set);
  }
  const relevantNovel = new Map<number, Set<number>>();
  for (const [u, rel] of relevantAll) {
    const own = new Set(rowIndices(val.data.matrix, u));
    const novel = new Set([...rel].filter((j) => !own.has(j)));
    if (novel.size) relevantNovel.set(u, novel);
  }
  // the top score is calibrated on purchases (a view of the top item is no purchase of it): none in a log without them
  const purchase = events.types.indexOf("purchase");
  const isPurchase = (i: number) => purchase >= 0 && events.type[i] === purchase;
  const readers = (u: number) => rowIndices(val.data.matrix, u).length > 0;
  const bought = new Map<number, Set<number>>();
  for (let i = 0; i < events.rows; i++) {
    const u = events.user[i] as number;
    if ((events.time[i] as number) < cut || !isPurchase(i) || !readers(u)) continue;
    const set = bought.get(u) ?? new Set<number>();
    set.add(events.item[i] as number);
    bought.set(u, set);
  }
  const calibration = { data: eventMatrix(events, cut, isPurchase), bought, readers };
  return {
    source: "events",
    purchases,
    full: window(Number.POSITIVE_INFINITY),
    validation: relevantAll.size > 0 ? { ...val, relevantAll, relevantNovel, calibration } : null,
    earlier: null,
    older: null,
    catalog,
    start: earliest(events.time),
    read: events.read,
    dropped: events.dropped,
  };
}

/**
 * The validation window's own validation split: the log as it stood at `cutoff`, cut `holdout` days before its last
 * purchase (the evaluation's validation split of its validation split, scripts/eval/run-evaluation.ts, so what is
 * trained is what is evaluated); null when the log has none to score.
 */
function earlierSplit(purchases: PurchaseLog, cutoff: number, holdout: number) {
  if (!Number.isFinite(latestTime(purchases, cutoff))) return null;
  const s = temporalSplit(purchases, holdout, cutoff);
  return s.testAll.size > 0 ? s : null;
}

/** Summed weights and last interaction time per (user, item), for rows before `until` (those `keep` keeps). */
function eventMatrix(events: InteractionLog, until: number, keep: (row: number) => boolean = () => true): TrainData {
  const r: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  const last = new Map<number, number>();
  const n = events.itemIds.length;
  for (let i = 0; i < events.rows; i++) {
    const t = events.time[i] as number;
    if (t >= until || !keep(i)) continue;
    const u = events.user[i] as number;
    const it = events.item[i] as number;
    r.push(u);
    c.push(it);
    v.push(events.weight[i] as number);
    const key = u * n + it;
    last.set(key, Math.max(last.get(key) ?? 0, t));
  }
  const matrix = csrFromCoo(events.userIds.length, n, r, c, v);
  const lastTime = new Float64Array(matrix.indices.length);
  for (let u = 0; u < matrix.rows; u++) {
    for (let k = matrix.indptr[u] as number; k < (matrix.indptr[u + 1] as number); k++) {
      lastTime[k] = last.get(u * n + (matrix.indices[k] as number)) ?? 0;
    }
  }
  return { matrix, lastTime };
}

/** What `--catalog` takes, as messages name it. */
const CATALOG_SHAPE = "a JSON array of items {id,title,category,price,currency,image,url}";

/** The --catalog file's items by id; an error names the entry (index and id) and field that is wrong. */
async function readCatalog(path: string): Promise<Map<string, CatalogItem>> {
  let raw: unknown;
  try {
    // a byte-order mark (a Windows tool's UTF-8) is no part of the JSON
    raw = JSON.parse((await readFile(path, "utf8")).replace(/^\uFEFF/, ""));
  } catch (e) {
    // a catalog exported as CSV is the likeliest: say what --catalog takes, not only where JSON.parse stopped
    throw new Error(`${path}: not JSON (${(e as Error).message}): --catalog takes ${CATALOG_SHAPE}, not CSV`);
  }
  if (!Array.isArray(raw)) throw new Error(`${path}: expected ${CATALOG_SHAPE}`);
  const out = new Map<string, CatalogItem>();
  raw.forEach((entry, i) => {
    const item = CatalogItemSchema.passthrough().safeParse(entry);
    if (!item.success) {
      const id = (entry as { id?: unknown } | null)?.id;
      const issues = item.error.issues.map((s) => `${fieldPath(s.path) || "(entry)"}: ${s.message}`).join("; ");
      throw new Error(`${path}: entry ${i}${typeof id === "string" ? ` (id ${JSON.stringify(id)})` : ""}: ${issues}`);
    }
    out.set(item.data.id, item.data);
  });
  return out;
}

function medianPrices(log: PurchaseLog): Map<string, number> {
  const byItem = new Map<number, number[]>();
  for (let i = 0; i < log.rows; i++) {
    const list = byItem.get(log.item[i] as number) ?? [];
    list.push(log.price[i] as number);
    byItem.set(log.item[i] as number, list);
  }
  const out = new Map<string, number>();
  for (const [item, prices] of byItem) {
    prices.sort((a, b) => a - b);
    out.set(log.itemIds[item] as string, prices[Math.floor(prices.length / 2)] as number);
  }
  return out;
}

function earliest(times: Float64Array): number {
  let min = Number.POSITIVE_INFINITY;
  for (const t of times) min = Math.min(min, t);
  return min;
}

/**
 * A description as a card's title: a capital at each word's start, the rest lower case. A word starts at a letter
 * after no letter, digit or apostrophe, in any script (`\b[a-z]` wrote `50'S`, `Poppy'S`, `CrèMe`, `éCharpe`).
 */
function titleCase(s: string): string {
  return s.toLowerCase().replace(/(?<![\p{L}\p{M}\p{N}'’])\p{L}/gu, (m) => m.toUpperCase());
}

function emptyPurchases(): PurchaseLog {
  return {
    layout: "opentime-events",
    rows: 0,
    customerIds: [],
    itemIds: [],
    itemDescriptions: [],
    description: new Int32Array(0),
    descriptions: [],
    invoiceIds: [],
    customer: new Int32Array(0),
    item: new Int32Array(0),
    invoice: new Int32Array(0),
    time: new Float64Array(0),
    quantity: new Float64Array(0),
    price: new Float64Array(0),
    countries: [],
    country: new Int16Array(0),
    dropped: {},
    read: 0,
  };
}
