/**
 * Reads an interaction log from CSV (plain or .gz, streamed) through a column mapping, into compact
 * typed arrays with dense user/item indices. The project's generic format is the demo's events.csv
 * (`user_id,item_id,ts,type`); any other CSV is read by naming its columns (`--map user=...,item=...`).
 */
import { IdSchema, MAX_ID_LENGTH, MAX_INPUT_NUMBER } from "../../core/events";
import { csvDelimiter, csvLines, refuseRepeatedColumns, spelledAs } from "./csv-input";
import { FileNumbers } from "./file-numbers";
import { type Csr, csrFromCoo } from "./sparse";
import { TimeColumn, type UnreadableTime } from "./time-column";

export interface ColumnMapping {
  user: string;
  item: string;
  /**
   * unix seconds or milliseconds, or a date string (`YYYY-MM-DD H:MM[:SS[.fff]]` is read as UTC unless a zone follows;
   * day-and-month dates as `M/D/YYYY` or `D.M.YYYY`, the order read from the whole file as for purchase logs)
   */
  time?: string;
  /** numeric strength of the interaction; when absent the event type's weight (or 1) is used */
  weight?: string;
  /** event type, weighted by `typeWeights` */
  type?: string;
}

export const DEMO_EVENTS_MAPPING: ColumnMapping = { user: "user_id", item: "item_id", time: "ts", type: "type" };

/** Implicit-feedback strength per event type; 0 drops the event from training. */
export const DEFAULT_TYPE_WEIGHTS: Readonly<Record<string, number>> = {
  view: 1,
  cart_add: 3,
  purchase: 6,
  email_click: 1,
  cart_remove: 0,
  email_open: 0,
};

export interface InteractionLog {
  userIds: string[];
  itemIds: string[];
  rows: number;
  user: Int32Array;
  item: Int32Array;
  /** unix seconds */
  time: Float64Array;
  weight: Float32Array;
  /** index into `types` (or -1) */
  type: Int16Array;
  types: string[];
  dropped: Record<string, number>;
  /** data rows read, kept or dropped */
  read: number;
  /** the first time that could not be read, as the file writes it, and its line (for the message refusing the file) */
  unreadableTime?: UnreadableTime;
  /**
   * the first few event types dropped for having no weight (`View`, `add_to_cart`): for the messages that say why,
   * never for the manifest, which must not hold a column's raw values
   */
  unweightedTypes: string[];
}

/** "user=CustomerID,item=StockCode" -> mapping */
export function parseMapping(spec: string): ColumnMapping {
  const m: Record<string, string> = {};
  for (const part of spec.split(",")) {
    const [k, v] = part.split("=").map((s) => s.trim());
    if (!k || !v) throw new Error(`bad --map entry "${part}": expected field=column`);
    if (!["user", "item", "time", "weight", "type"].includes(k)) throw new Error(`unknown --map field "${k}"`);
    m[k] = v;
  }
  if (!m.user || !m.item) throw new Error("--map needs at least user=<column>,item=<column>");
  return m as unknown as ColumnMapping;
}

export type DateOrder = "mdy" | "dmy";

/**
 * A date with its day and month first, in either order, and a two- or four-digit year, `/`, `.` or `-` between its
 * fields (`12/01/2010`, `01.12.2010`, `1-12-2010`), with an optional time: one- or two-digit hour, optional seconds,
 * an optional `AM`/`PM` (`12/01/2010 08:45 AM`, as US tools write it) and an optional zone (`GMT`, `+01:00`).
 */
const DAY_MONTH =
  /^(\d{1,2})([/.-])(\d{1,2})\2(\d{2}|\d{4})(?:,?[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AP])\.?M\.?)?(?:\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?)?$/i;

/** The seconds a zone (`Z`, `UTC`, `GMT`, `+01`, `+0100`, `+01:00`; none: UTC) is ahead of UTC. */
function zoneOffset(zone: string): number {
  const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  return z ? (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60 : 0;
}

/**
 * What a file's day-and-month dates say of their order: one whose first field is above 12 is day first
 * (`13/01/2011`), one whose second is, month first (`01/13/2011`); the first of each, and the first date of all.
 */
export function dateOrderOf(samples: Iterable<string>): { dayFirst?: string; monthFirst?: string; first?: string } {
  const seen: { dayFirst?: string; monthFirst?: string; first?: string } = {};
  for (const raw of samples) {
    const s = raw.trim();
    const m = DAY_MONTH.exec(s);
    if (!m) continue;
    seen.first ??= s;
    if (Number(m[1]) > 12) seen.dayFirst ??= s;
    if (Number(m[3]) > 12) seen.monthFirst ??= s;
    if (seen.dayFirst && seen.monthFirst) break;
  }
  return seen;
}

/**
 * The order of a whole file's day-and-month dates: what its dates show (any first field above 12: day first; any
 * second: month first), else `given` (`--date-order`). Refused, saying what to do, when the dates show both orders,
 * contradict `given`, or show none and none is given: a file of the first twelve days of its months reads either
 * way, and guessing would move every purchase by months.
 */
export function dateOrder(path: string, samples: Iterable<string>, given?: DateOrder): DateOrder | null {
  const { dayFirst, monthFirst, first } = dateOrderOf(samples);
  if (dayFirst && monthFirst)
    throw new Error(
      `${path}: its dates are written both day first (${dayFirst}) and month first (${monthFirst}): one order for the ` +
        "file, or write them year first (2010-12-01 08:26)",
    );
  const shown: DateOrder | null = dayFirst ? "dmy" : monthFirst ? "mdy" : null;
  if (shown && given && shown !== given)
    throw new Error(
      `${path}: --date-order ${given}, but ${dayFirst ?? monthFirst} can only be ${shown === "dmy" ? "day" : "month"} first: ` +
        `leave --date-order out (the dates say ${shown}) or check the column`,
    );
  if (shown || given || !first) return shown ?? given ?? null;
  const m = DAY_MONTH.exec(first) as RegExpExecArray;
  const [a, b] = [Number(m[1]), Number(m[3])];
  const month = (n: number) => new Date(Date.UTC(2000, n - 1)).toLocaleString("en", { month: "long", timeZone: "UTC" });
  throw new Error(
    `${path}: no date says whether its dates are day or month first (none has a field above 12 where the other ` +
      `order would put the month): pass --date-order dmy (${first} is ${a} ${month(b)}) or --date-order mdy ` +
      `(${month(a)} ${b})`,
  );
}

/**
 * A year-first date, `-` or `/` between its fields, with an optional time (one- or two-digit hour, optional seconds
 * and fraction) and an optional zone (`Z`, `UTC`, `GMT`, `+01`, `+0100`, `+01:00`); without one it is read as UTC.
 */
const YEAR_FIRST =
  /^(\d{4})([-/])(\d{1,2})\2(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Ends with an explicit zone: what Date.parse reads the same on every machine (RFC 2822's `... GMT`, `+0000`). */
const ZONED = /(?:\b(?:GMT|UTC)|\dZ|[+-]\d{2}:?\d{2})$/i;

/** No time is read at or after the year 2100 (unix seconds): a number in another unit, or a typo, not a purchase. */
export const LATEST_TIME_S = Date.UTC(2100, 0, 1) / 1000;

/**
 * Unix seconds from: seconds, milliseconds, microseconds or nanoseconds (before the year 2100); `YYYYMMDD` and `YYYYMMDDHHMMSS` (UTC); `YYYY-MM-DD[ H:MM[:SS[.fff]]]` or `YYYY/MM/DD ...` (UTC unless a zone
 * follows); `M/D/YYYY H:MM[ AM]` or `D.M.YYYY H:MM` (DAY_MONTH: in `order`, read as UTC; NaN without one); other text only when it names its zone
 * (`Fri, 09 Dec 2011 12:50:00 GMT`). NaN when unreadable: a zone-less time in another format is not guessed at, since
 * the runtime would read it in the machine's own zone, nor a time at or after the year 2100.
 */
export function parseTime(raw: string, order: DateOrder | null = null): number {
  const t = readTime(raw.trim(), order);
  return t < LATEST_TIME_S ? t : Number.NaN;
}

/**
 * Unix seconds of a wall-clock time in UTC, NaN for a day its month does not have (`2011-02-29`, `31/04/2011`):
 * Date.UTC rolls it over into the next month, a purchase moved days without a word. The events API refuses them too
 * (core/events.ts).
 */
function civilUtc(year: number, month: number, day: number, h: number, m: number, s: number): number {
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day > days ? Number.NaN : Date.UTC(year, month - 1, day, h, m, s) / 1000;
}

/** parseTime's reading of a trimmed cell, before the year 2100 is checked. */
function readTime(s: string, order: DateOrder | null): number {
  // compact dates as warehouses export them (YYYYMMDD, YYYYMMDDHHMMSS), read as UTC; as numbers they would be
  // seconds in 1970-73 or milliseconds in the 27th century
  const compact = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2}))?$/.exec(s);
  if (compact) {
    const field = (i: number) => Number(compact[i] ?? 0);
    const [year, month, day, hh, mm, ss] = [field(1), field(2), field(3), field(4), field(5), field(6)];
    const valid = year >= 1900 && year < 2200 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
    if (valid && hh <= 23 && mm <= 59 && ss <= 59) return civilUtc(year, month, day, hh, mm, ss);
  }
  if (/^\d+(\.\d+)?$/.test(s)) {
    // seconds, or milliseconds, microseconds (GA4's and BigQuery's exports) or nanoseconds since 1970: each is a
    // thousand times the one before, and a time past the year 2100 in one unit is before 2001 in the next
    const n = Number(s);
    return n >= 1e17 ? n / 1e9 : n >= 1e14 ? n / 1e6 : n > 1e12 ? n / 1000 : n;
  }
  const dm = DAY_MONTH.exec(s);
  if (dm) {
    if (!order) return Number.NaN;
    const [a, , b, y, h = "0", mm = "0", ss = "0", half, zone = ""] = dm.slice(1) as string[];
    const [month, day] = order === "mdy" ? [Number(a), Number(b)] : [Number(b), Number(a)];
    // a two-digit year as POSIX's %y reads one: 69 and later are 1969-1999 (`12/01/99` is not 2099)
    const year = (y as string).length === 2 ? (Number(y) < 69 ? 2000 : 1900) + Number(y) : Number(y);
    // 12 AM is midnight, 12 PM noon; a 12-hour clock has no hour 0 or above 12
    let hour = Number(h);
    if (half && (hour < 1 || hour > 12)) return Number.NaN;
    if (half) hour = (hour % 12) + (half.toUpperCase() === "P" ? 12 : 0);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || Number(mm) > 59 || Number(ss) > 59)
      return Number.NaN;
    return civilUtc(year, month, day, hour, Number(mm), Number(ss)) - zoneOffset(zone);
  }
  const ymd = YEAR_FIRST.exec(s);
  if (ymd) {
    const [y, , mo, d, hh = "0", mm = "0", ss = "0", frac = "", zone = ""] = ymd.slice(1) as string[];
    const month = Number(mo);
    const day = Number(d);
    if (month < 1 || month > 12 || day < 1 || day > 31 || Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 59)
      return Number.NaN;
    const utc = civilUtc(Number(y), month, day, Number(hh), Number(mm), Number(ss));
    return utc + (frac ? Number(frac) : 0) - zoneOffset(zone);
  }
  return ZONED.test(s) && namedDayExists(s) ? Date.parse(s) / 1000 : Number.NaN;
}

const MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
/** A day and a month's name, either first (`31 Apr`, `Apr 31,`), then a four-digit year. */
const NAMED_DAY = /\b(?:(\d{1,2})\s+([a-z]{3})[a-z]*\.?|([a-z]{3})[a-z]*\.?\s+(\d{1,2}),?)\s+(\d{4})\b/i;

/**
 * Whether the day a text date names with its month's name (`31 Apr 2011`, `Apr 31, 2011`) is one its month has:
 * Date.parse rolls `31 Apr` over into 1 May, as Date.UTC does, so civilUtc's check is made here too. A text it finds
 * no such day in is left to Date.parse.
 */
function namedDayExists(s: string): boolean {
  const m = NAMED_DAY.exec(s);
  const month = m ? MONTH_NAMES.indexOf((m[2] ?? m[3] ?? "").toLowerCase()) + 1 : 0;
  if (!m || month === 0) return true;
  return !Number.isNaN(civilUtc(Number(m[5]), month, Number(m[1] ?? m[4]), 0, 0, 0));
}

/**
 * A whole file's time column, read as unix seconds (NaN where unreadable): the day/month order of its dates is a
 * property of the file (dateOrder over all of them, or `given`), so they are parsed once every row is seen.
 */
export function parseTimes(path: string, raw: readonly string[], given?: DateOrder): Float64Array {
  const order = dateOrder(path, raw, given);
  return Float64Array.from(raw, (s) => parseTime(s, order));
}

class Growable<T extends Int32Array | Float64Array | Float32Array | Int16Array> {
  length = 0;
  constructor(
    public buf: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number) {
    if (this.length === this.buf.length) {
      const next = this.make(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  /** the values at `keep` (ascending indices), in that order */
  pick(keep: readonly number[]): T {
    const out = this.make(keep.length);
    keep.forEach((i, k) => {
      out[k] = this.buf[i] as number;
    });
    return out;
  }
}

export interface ReadOptions {
  mapping?: ColumnMapping;
  typeWeights?: Readonly<Record<string, number>>;
  /** the order of day-and-month dates no date of the file settles (`--date-order`) */
  dateOrder?: DateOrder;
}

export async function readInteractionLog(path: string, opts: ReadOptions = {}): Promise<InteractionLog> {
  const mapping = opts.mapping ?? DEMO_EVENTS_MAPPING;
  const typeWeights = opts.typeWeights ?? DEFAULT_TYPE_WEIGHTS;
  const userIndex = new Map<string, number>();
  const itemIndex = new Map<string, number>();
  const typeIndex = new Map<string, number>();
  const user = new Growable(new Int32Array(1024), (n) => new Int32Array(n));
  const item = new Growable(new Int32Array(1024), (n) => new Int32Array(n));
  const weight = new Growable(new Float32Array(1024), (n) => new Float32Array(n));
  const type = new Growable(new Int16Array(1024), (n) => new Int16Array(n));
  const dropped: Record<string, number> = {};
  const drop = (why: string) => {
    dropped[why] = (dropped[why] ?? 0) + 1;
  };
  // times are parsed once the whole file is seen (parseTimes), as the purchase reader does
  const rawTimes = new TimeColumn();
  let read = 0;
  let checked = false;
  const unweighted = new Set<string>();
  // the mapping's columns in any case, spacing or underscores (`USER_ID`, `Customer ID` for `customer_id`)
  const used = Object.values(mapping).filter((c): c is string => !!c);
  const named = (header: string[]) => {
    const names = spelledAs(header, used);
    refuseRepeatedColumns(path, names, used);
    return names;
  };
  // weights are read with one decimal mark for the file, known once every row is seen
  const numbers = new FileNumbers(path, await csvDelimiter(path));
  for await (const { record: rec, line, longer } of csvLines(path, named)) {
    read++;
    if (!checked) {
      for (const col of Object.values(mapping)) {
        if (col && !(col in rec))
          throw new Error(`column "${col}" not in ${path} (columns: ${Object.keys(rec).join(", ")})`);
      }
      checked = true;
    }
    if (longer) {
      drop(MORE_FIELDS);
      continue;
    }
    const u = rec[mapping.user]?.trim();
    const it = rec[mapping.item]?.trim();
    if (!u || isPlaceholderId(u)) {
      drop("missing user");
      continue;
    }
    if (!it || isPlaceholderItem(it)) {
      drop("missing item");
      continue;
    }
    const unservable = unservableRow(customerId(u), it);
    if (unservable) {
      drop(unservable);
      continue;
    }
    const rawTime = mapping.time ? (rec[mapping.time] ?? "").trim() : "0";
    if (!rawTime) {
      drop("bad time");
      continue;
    }
    const typ = mapping.type ? (rec[mapping.type] ?? "").trim() : "";
    let w: number;
    const cell = mapping.weight ? numbers.read(rec[mapping.weight], line, mapping.weight) : null;
    if (cell) w = cell.value;
    else if (mapping.type) w = typeWeights[typ] ?? 0;
    else w = 1;
    if (!Number.isFinite(w) || w <= 0) {
      // one reason, whatever the type: the counts go into the manifest, which must not hold a column's raw values
      drop(mapping.weight ? "non-positive weight" : "type weight 0");
      if (!mapping.weight && unweighted.size < 10) unweighted.add(typ);
      continue;
    }
    // the events API's bound on any number: past it, ALS's confidences (1 + alpha x weight, squared) overflow
    if (w > MAX_INPUT_NUMBER) {
      drop("weight above 1e9");
      continue;
    }
    user.push(intern(userIndex, customerId(u)));
    item.push(intern(itemIndex, it));
    const ti = typ ? intern(typeIndex, typ) : -1;
    rawTimes.push(rawTime, line);
    if (cell) {
      const at = weight.length;
      numbers.keep(cell, (v) => {
        weight.buf[at] = v;
      });
    }
    weight.push(w);
    type.push(ti);
  }
  numbers.settle();
  const { times, unreadable } = rawTimes.parse((texts) => parseTimes(path, texts, opts.dateOrder));
  const keep: number[] = [];
  times.forEach((t, i) => {
    if (Number.isFinite(t)) keep.push(i);
  });
  if (keep.length < times.length) dropped["bad time"] = (dropped["bad time"] ?? 0) + times.length - keep.length;
  // users, items and types indexed by the rows kept, in order of first sight, as if the others had not been read
  const users = reindex([...userIndex.keys()], user.pick(keep));
  const items = reindex([...itemIndex.keys()], item.pick(keep));
  const types = reindex([...typeIndex.keys()], type.pick(keep));
  return {
    userIds: users.ids,
    itemIds: items.ids,
    rows: keep.length,
    user: users.column,
    item: items.column,
    time: Float64Array.from(keep, (i) => times[i] as number),
    weight: weight.pick(keep),
    type: types.column,
    types: types.ids,
    dropped,
    read,
    unweightedTypes: [...unweighted],
    ...(unreadable && { unreadableTime: unreadable }),
  };
}

/** `column`'s indices into `ids` made dense again over the values it still holds (-1 stays -1). */
export function reindex<T extends Int32Array | Int16Array>(ids: string[], column: T): { ids: string[]; column: T } {
  const index = new Map<string, number>();
  column.forEach((v, k) => {
    if (v >= 0) column[k] = intern(index, ids[v] as string);
  });
  return { ids: [...index.keys()], column };
}

/** Why a row with more fields than the header is dropped (log-checks.ts refuses a file of many). */
export const MORE_FIELDS = "more fields than the header";

/**
 * A customer id as both logs key it: a whole number that a spreadsheet wrote as a float (`17850.0`) is that number,
 * so the purchase and interaction readers of one file never split a reader in two; any other id is kept as it is.
 */
export function customerId(raw: string): string {
  // `,0` or `,00` where the comma is the decimal mark; `12,000` is a thousand-separated number, not 12
  return /^\d+(?:\.0+|,0{1,2})$/.test(raw) ? raw.slice(0, raw.search(/[.,]/)) : raw;
}

/** Why a row whose customer id the Worker would refuse is dropped. */
export const UNSERVABLE_USER = "user id the Worker refuses";
/** Why a row whose item id the Worker would refuse is dropped. */
export const UNSERVABLE_ITEM = "item id the Worker refuses";

/**
 * Whether the Worker would refuse `id` (trimmed, a customer's as customerId gives it) as a user or item id: over 128
 * characters, a control character, not well-formed Unicode (core/events.ts IdSchema), or, for a user, over 128
 * UTF-16 units (an id of emoji: UserIdSchema's bound, which keeps its KV keys within 512 bytes), `.` or `..` (a URL
 * cannot name them). Trained on, such a reader would be in the model and the profiles but could never get a
 * token, nor be reached by the right of access; such an item could never be clicked or bought through the events
 * API. (A user id shaped like an email address is not this: train refuses the whole file for it, saying so.)
 */
export function unservableId(id: string, of: "user" | "item"): boolean {
  if (!IdSchema.safeParse(id).success) return true;
  return of === "user" && (id.length > MAX_ID_LENGTH || id === "." || id === "..");
}

/** Why a row whose customer id a spreadsheet rounded is dropped (log-checks.ts refuses a file holding one). */
export const ROUNDED_USER = "user id in scientific notation";
/** Why a row whose item id a spreadsheet rounded is dropped (log-checks.ts refuses a file holding one). */
export const ROUNDED_ITEM = "item id in scientific notation";
/**
 * Why an events file's row whose event id a spreadsheet rounded is dropped (npm run import; log-checks.ts refuses a
 * file holding one): the Worker would take the first event of each rounded id and drop the others as duplicates.
 */
export const ROUNDED_EVENT = "event id in scientific notation";

/**
 * An id as a spreadsheet writes a long number it was given in a column of general format (`6.54321E+12` for a
 * 13-digit customer number or barcode; `6,54321E+12` where the comma is the decimal mark): rounded to a few digits,
 * so different customers or products read as one. No id is written so (a code with an E in it has no `E+`).
 */
export function isRoundedId(id: string): boolean {
  return /^\d(?:[.,]\d+)?E\+\d{1,3}$/i.test(id);
}

/**
 * Why a row of customer `user` (as customerId gives it) and item `item` is dropped before it is read, or null: an
 * id the Worker would refuse (unservableId), or one a spreadsheet rounded (isRoundedId).
 */
export function unservableRow(user: string, item: string | undefined): string | null {
  if (unservableId(user, "user")) return UNSERVABLE_USER;
  if (item !== undefined && unservableId(item, "item")) return UNSERVABLE_ITEM;
  if (isRoundedId(user)) return ROUNDED_USER;
  return item !== undefined && isRoundedId(item) ? ROUNDED_ITEM : null;
}

/**
 * Whether an id cell holds what an export writes for no value: pandas' `nan`, R's `NA`, SQL's `NULL`, Excel's
 * `#N/A`, `None`, `-`. Kept as an id, every row without a customer would be one customer (a quarter of a file's
 * purchases, in an R export of Online Retail), whom nothing tells from a real one.
 */
export function isPlaceholderId(raw: string): boolean {
  return /^(?:nan|na|n\/a|#n\/a|null|none|nil|undefined|-)$/i.test(raw);
}

/**
 * isPlaceholderId for an item cell: only the words no product code is (`nan`, `NULL`, `#N/A`, `n/a`, `undefined`);
 * `NA`, `None` or `-` may be a shop's own code.
 */
export function isPlaceholderItem(raw: string): boolean {
  return /^(?:nan|n\/a|#n\/a|null|undefined)$/i.test(raw);
}

/** Dense index of `key`, assigning the next one on first sight. */
export function intern(index: Map<string, number>, key: string): number {
  let i = index.get(key);
  if (i === undefined) {
    i = index.size;
    index.set(key, i);
  }
  return i;
}

/** User x item matrix of summed weights over rows with `from <= time < until`. */
export function interactionMatrix(
  log: InteractionLog,
  from = Number.NEGATIVE_INFINITY,
  until = Number.POSITIVE_INFINITY,
): Csr {
  const r: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < log.rows; i++) {
    const t = log.time[i] as number;
    if (t < from || t >= until) continue;
    r.push(log.user[i] as number);
    c.push(log.item[i] as number);
    v.push(log.weight[i] as number);
  }
  return csrFromCoo(log.userIds.length, log.itemIds.length, r, c, v);
}
