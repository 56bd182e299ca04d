/**
 * Purchase logs, streamed from CSV (plain or .gz): the UCI "Online Retail" layout
 * (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country), the
 * "Online Retail II" layout (Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID,
 * Country), and the project's events format (user_id, item_id, ts, type: purchases only), or a typed event log
 * through its column mapping. The layout is detected from the header. Rows are cleaned as the evaluation protocol
 * says, and every dropped row is counted under its reason.
 */
import { MAX_INPUT_NUMBER } from "../../core/events";
import {
  csvDelimiter,
  looseName,
  openCsv,
  type ParsedRow,
  refuseRepeatedColumns,
  shopCsvParser,
  spelledAs,
} from "./csv-input";
import { FileNumbers } from "./file-numbers";
import {
  type ColumnMapping,
  customerId,
  type DateOrder,
  intern,
  isPlaceholderId,
  isPlaceholderItem,
  MORE_FIELDS,
  parseTimes,
  reindex,
  unservableRow,
} from "./interaction-log";
import { TimeColumn, type UnreadableTime } from "./time-column";

export type PurchaseLayout = "online-retail" | "online-retail-ii" | "opentime-events";

interface LayoutColumns {
  invoice: string;
  item: string;
  description?: string;
  quantity?: string;
  time: string;
  price?: string;
  customer: string;
  country?: string;
  type?: string;
}

const LAYOUTS: Record<PurchaseLayout, LayoutColumns> = {
  "online-retail": {
    invoice: "InvoiceNo",
    item: "StockCode",
    description: "Description",
    quantity: "Quantity",
    time: "InvoiceDate",
    price: "UnitPrice",
    customer: "CustomerID",
    country: "Country",
  },
  "online-retail-ii": {
    invoice: "Invoice",
    item: "StockCode",
    description: "Description",
    quantity: "Quantity",
    time: "InvoiceDate",
    price: "Price",
    customer: "Customer ID",
    country: "Country",
  },
  "opentime-events": { invoice: "event_id", item: "item_id", time: "ts", customer: "user_id", type: "type" },
};

const LAYOUT_NAMES: Record<PurchaseLayout, string> = {
  "online-retail": "the UCI Online Retail layout",
  "online-retail-ii": "Online Retail II",
  "opentime-events": "opentime events",
};

const columnsOf = (layout: PurchaseLayout) =>
  Object.values(LAYOUTS[layout]).filter((c): c is string => c !== undefined);

/**
 * `header` with its names spelled as a layout spells them, when it holds every column of one but in another case,
 * spacing or underscores (`invoiceno`, `customer_id`); as it is otherwise.
 */
export function layoutColumns(header: readonly string[]): string[] {
  for (const layout of Object.keys(LAYOUTS) as PurchaseLayout[]) {
    const renamed = spelledAs(header, columnsOf(layout));
    if (columnsOf(layout).every((c) => renamed.includes(c))) return renamed;
  }
  return [...header];
}

/** The purchase layout whose columns `header` holds (in any case, spacing or underscores), or null. */
export function layoutOf(header: readonly string[]): PurchaseLayout | null {
  const names = layoutColumns(header);
  for (const layout of Object.keys(LAYOUTS) as PurchaseLayout[])
    if (columnsOf(layout).every((c) => names.includes(c))) return layout;
  return null;
}

/** The layout `header` is of; else an error naming what it lacks, and the file (`path`) when given. */
export function detectLayout(header: readonly string[], path?: string): PurchaseLayout {
  const layout = layoutOf(header);
  if (layout) return layout;
  // the layout the header comes nearest to, when it holds most of one's columns: what it lacks
  const present = new Set(header.map(looseName));
  const near = (Object.keys(LAYOUTS) as PurchaseLayout[])
    .map((l) => ({ l, missing: columnsOf(l).filter((c) => !present.has(looseName(c))) }))
    .filter(({ l, missing }) => missing.length <= columnsOf(l).length / 2)
    .sort((a, b) => a.missing.length - b.missing.length)[0];
  const lacks = near ? `: ${LAYOUT_NAMES[near.l]} also needs ${near.missing.join(", ")};` : ":";
  throw new Error(
    `unrecognised columns${path === undefined ? "" : ` of ${path}`} (${header.join(", ")})${lacks} expected the UCI Online Retail layout, Online Retail II, ` +
      "or opentime events (event_id,user_id,type,item_id,ts)",
  );
}

/** Why an event log's row of another type than `purchase` is not read as a purchase. */
export const NOT_A_PURCHASE = "not a purchase event";

/**
 * Why a purchase of a log mapped without a time column (`--map user=..,item=..,type=..`) is dropped: a purchase's time
 * is what its history entry, recency, send time and propensity are made of, and a time of 0 would be one of 1970.
 */
export const NO_TIME_COLUMN = "no time column";

/**
 * Why a row whose quantity or price is above the events API's bound on any number (core/events.ts MAX_INPUT_NUMBER)
 * is dropped: no shop's, and past it a customer's spend (quantity x price, summed) may not stay finite.
 */
export const QUANTITY_TOO_LARGE = "quantity above 1e9";
export const PRICE_TOO_LARGE = "price above 1e9";

/** Product lines only: StockCode starting with five digits (drops POST, M, DOT, BANK CHARGES, vouchers...). */
export const PRODUCT_CODE = /^\d{5}/;

export interface PurchaseLog {
  layout: PurchaseLayout;
  rows: number;
  customerIds: string[];
  itemIds: string[];
  /** per item: the most frequent non-empty description seen (over the whole log: what to ship) */
  itemDescriptions: string[];
  /** per row: its description, an index into `descriptions` (-1: none); see itemDescriptionsBefore */
  description: Int32Array;
  descriptions: string[];
  invoiceIds: string[];
  customer: Int32Array;
  item: Int32Array;
  invoice: Int32Array;
  /** unix seconds (UCI times are read as UTC wall-clock, as written) */
  time: Float64Array;
  quantity: Float64Array;
  price: Float64Array;
  countries: string[];
  country: Int16Array;
  dropped: Record<string, number>;
  read: number;
  /** the first time that could not be read, as the file writes it, and its line (for the message refusing the file) */
  unreadableTime?: UnreadableTime;
}

export interface PurchaseLogOptions {
  /** called every 50,000 rows read */
  onProgress?: (rowsRead: number) => void;
  /**
   * a typed event log's columns (`--map` with a `type`): its `purchase` rows are read as the events layout's are,
   * whatever the header holds
   */
  mapping?: ColumnMapping & { type: string };
  /** the order of day-and-month dates no date of the file settles (`--date-order`) */
  dateOrder?: DateOrder;
}

export async function readPurchaseLog(path: string, opts: PurchaseLogOptions = {}): Promise<PurchaseLog> {
  const customers = new Map<string, number>();
  const items = new Map<string, number>();
  const invoices = new Map<string, number>();
  const countries = new Map<string, number>();
  const descs = new Map<string, number>();
  const cols = {
    customer: [] as number[],
    item: [] as number[],
    invoice: [] as number[],
    country: [] as number[],
    description: [] as number[],
  };
  const rawTimes = new TimeColumn();
  const quantity: number[] = [];
  const price: number[] = [];
  const dropped: Record<string, number> = {};
  const drop = (why: string) => {
    dropped[why] = (dropped[why] ?? 0) + 1;
  };
  let layout: PurchaseLayout | null = null;
  let c: LayoutColumns = LAYOUTS["online-retail"];
  let read = 0;
  const delimiter = await csvDelimiter(path);
  const parser = openCsv(
    path,
    shopCsvParser(delimiter, (header) => {
      const m = opts.mapping;
      if (m) {
        layout = "opentime-events";
        c = { invoice: "", item: m.item, time: m.time ?? "", customer: m.user, type: m.type };
        refuseRepeatedColumns(
          path,
          header,
          Object.values(c).filter((n): n is string => !!n),
        );
        return header;
      }
      const names = layoutColumns(header);
      layout = detectLayout(names, path);
      c = LAYOUTS[layout];
      refuseRepeatedColumns(path, names, columnsOf(layout));
      return names;
    }),
  );
  // quantities and prices are read with one decimal mark for the file, known once every row is seen
  const numbers = new FileNumbers(path, delimiter);
  for await (const { record: rec, info, longer } of parser as AsyncIterable<ParsedRow>) {
    read++;
    if (opts.onProgress && read % 50_000 === 0) opts.onProgress(read);
    if (longer) {
      drop(MORE_FIELDS);
      continue;
    }
    // trimmed, as the interaction reader reads a type (`purchase ` weighs as a purchase there)
    if (c.type && (rec[c.type] ?? "").trim() !== "purchase") {
      drop(NOT_A_PURCHASE);
      continue;
    }
    const customer = (rec[c.customer] ?? "").trim();
    if (!customer || isPlaceholderId(customer)) {
      drop("missing customer id");
      continue;
    }
    const invoiceNo = (rec[c.invoice] ?? "").trim();
    // the UCI layouts mark a cancellation by a "C" invoice; in the events layout the column is an event id, which may
    // start with a C (an upper-case UUID) and says nothing about cancelling
    if (layout !== "opentime-events" && invoiceNo.startsWith("C")) {
      drop("cancellation invoice");
      continue;
    }
    // NaN (not a plain number: `£2.55`, or `2,55` in a comma-separated file) is counted apart from a number that
    // is not positive: a file of unreadable numbers must not pass for one of refunds
    const quantityCell = c.quantity ? numbers.read(rec[c.quantity], info.lines, c.quantity) : { value: 1 };
    const qty = quantityCell.value;
    if (Number.isNaN(qty)) {
      drop("quantity not a number");
      continue;
    }
    if (!(qty > 0)) {
      drop("quantity not positive");
      continue;
    }
    if (qty > MAX_INPUT_NUMBER) {
      drop(QUANTITY_TOO_LARGE);
      continue;
    }
    const priceCell = c.price ? numbers.read(rec[c.price], info.lines, c.price) : { value: 1 };
    const unit = priceCell.value;
    if (Number.isNaN(unit)) {
      drop("price not a number");
      continue;
    }
    if (!(unit > 0)) {
      drop("price not positive");
      continue;
    }
    if (unit > MAX_INPUT_NUMBER) {
      drop(PRICE_TOO_LARGE);
      continue;
    }
    const code = (rec[c.item] ?? "").trim();
    if (layout !== "opentime-events" && !PRODUCT_CODE.test(code)) {
      drop("not a product stock code");
      continue;
    }
    if (!code || isPlaceholderItem(code)) {
      drop("missing item");
      continue;
    }
    const unservable = unservableRow(customerId(customer), code);
    if (unservable) {
      drop(unservable);
      continue;
    }
    // a log mapped without time: a purchase is nothing without its time (histories, recency, send time)
    if (!c.time) {
      drop(NO_TIME_COLUMN);
      continue;
    }
    const rawTime = (rec[c.time] ?? "").trim();
    if (!rawTime) {
      drop("bad time");
      continue;
    }
    const ii = intern(items, code);
    const desc = c.description ? (rec[c.description] ?? "").trim() : "";
    cols.description.push(desc ? intern(descs, desc) : -1);
    cols.customer.push(intern(customers, customerId(customer)));
    cols.item.push(ii);
    cols.invoice.push(intern(invoices, c.type ? `${customer}@${rawTime}` : invoiceNo));
    cols.country.push(c.country ? intern(countries, (rec[c.country] ?? "").trim()) : -1);
    rawTimes.push(rawTime, info.lines);
    const at = quantity.length;
    numbers.keep(quantityCell, (v) => {
      quantity[at] = v;
    });
    numbers.keep(priceCell, (v) => {
      price[at] = v;
    });
    quantity.push(qty);
    price.push(unit);
  }
  numbers.settle();
  if (!layout) throw new Error(`${path} is empty: no header row, no rows`);
  // dates are parsed once the whole file is seen: the day/month order of its dates is a property of the file
  const { times, unreadable } = rawTimes.parse((texts) => parseTimes(path, texts, opts.dateOrder));
  const parsed = Array.from(times);
  const keep = parsed.flatMap((t, i) => (Number.isFinite(t) ? [i] : []));
  if (keep.length < parsed.length) dropped["bad time"] = (dropped["bad time"] ?? 0) + parsed.length - keep.length;
  const pick = <T>(xs: T[]) => keep.map((i) => xs[i] as T);
  const time = pick(parsed);
  // customers, items, invoices, countries and descriptions indexed by the rows kept, in order of first sight, as if the
  // others had not been read (as the interaction reader does): a customer whose every row had a time that could not be
  // read would otherwise be one of the log's, and get a profile of no purchase
  const customer = reindex([...customers.keys()], Int32Array.from(pick(cols.customer)));
  const item = reindex([...items.keys()], Int32Array.from(pick(cols.item)));
  const invoice = reindex([...invoices.keys()], Int32Array.from(pick(cols.invoice)));
  const country = reindex([...countries.keys()], Int16Array.from(pick(cols.country)));
  const description = reindex([...descs.keys()], Int32Array.from(pick(cols.description)));
  const qty = pick(quantity);
  const unit = pick(price);
  const itemIds = item.ids;
  const descriptions = description.ids;
  return {
    layout,
    rows: time.length,
    customerIds: customer.ids,
    itemIds,
    itemDescriptions: mostFrequentDescriptions(
      itemIds.length,
      item.column,
      description.column,
      descriptions,
      () => true,
    ),
    description: description.column,
    descriptions,
    invoiceIds: invoice.ids,
    customer: customer.column,
    item: item.column,
    invoice: invoice.column,
    time: Float64Array.from(time),
    quantity: Float64Array.from(qty),
    price: Float64Array.from(unit),
    countries: country.ids,
    country: country.column,
    dropped,
    read,
    ...(unreadable && { unreadableTime: unreadable }),
  };
}

/**
 * Per item, the most frequent description of the rows before `before` (unix s): what a model fitted at that
 * cutoff could know of it; a description first written later would leak the future into content features.
 */
export function itemDescriptionsBefore(log: PurchaseLog, before: number): string[] {
  return mostFrequentDescriptions(log.itemIds.length, log.item, log.description, log.descriptions, (r) => {
    return (log.time[r] as number) < before;
  });
}

function mostFrequentDescriptions(
  items: number,
  item: Int32Array,
  description: Int32Array,
  descriptions: string[],
  keep: (row: number) => boolean,
): string[] {
  const counts: (Map<string, number> | undefined)[] = new Array(items);
  for (let r = 0; r < item.length; r++) {
    const d = description[r] as number;
    if (d < 0 || !keep(r)) continue;
    const i = item[r] as number;
    const m = counts[i] ?? new Map<string, number>();
    counts[i] = m;
    const text = descriptions[d] as string;
    m.set(text, (m.get(text) ?? 0) + 1);
  }
  return Array.from({ length: items }, (_, i) => mostFrequent(counts[i]));
}

function mostFrequent(counts: Map<string, number> | undefined): string {
  let best = "";
  let n = 0;
  for (const [k, v] of counts ?? []) {
    if (v > n || (v === n && k < best)) {
      best = k;
      n = v;
    }
  }
  return best;
}
