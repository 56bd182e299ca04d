/**
 * What every reader of a shop's log (train, evaluate, import) refuses before it uses a row: a log with nothing left to
 * learn from (saying what was dropped and why), one whose times, numbers or fields were most likely misread, one
 * keyed by email addresses. Each error says what is wrong with the file and what to do.
 */
import { looksLikeEmail } from "../../core/events";
import {
  DEFAULT_TYPE_WEIGHTS,
  type InteractionLog,
  MORE_FIELDS,
  ROUNDED_EVENT,
  ROUNDED_ITEM,
  ROUNDED_USER,
} from "./interaction-log";
import { NOT_A_PURCHASE, type PurchaseLog } from "./purchase-log";
import type { UnreadableTime } from "./time-column";

/**
 * Rows whose time (or quantity, or price) cannot be read, above this share of the log, stop training, evaluating or importing: a
 * format the reader got wrong (a date order misread, a decimal comma, a column of another format), not a few damaged rows.
 */
export const MAX_UNREADABLE_SHARE = 0.05;

/** Times read as before this (1973-03-03) are no shop's: a count that is not unix time (Excel's serial days). */
const EARLIEST_TIME_S = 1e8;

/** What checkReadable reads of a log. */
export interface ReadLog {
  read: number;
  dropped: Record<string, number>;
  /** the first time that could not be read, as the file writes it, and its line */
  unreadableTime?: UnreadableTime;
  /** the times kept (unix seconds) */
  time: ArrayLike<number>;
}

/**
 * Refuses a log most likely misread as a whole: its unreadable times past MAX_UNREADABLE_SHARE (saying how many, the
 * first of them as the file writes it, and what times are read); every time it kept before 1973 (Excel's serial days
 * read as seconds; not all 0, a log without times); rows with more fields than the header past MAX_UNREADABLE_SHARE
 * (a field holding the separator, unquoted: dropped one by one, they would take every product whose name holds one).
 */
export function checkReadable(path: string, log: ReadLog): void {
  checkTimes(path, log.read, log.dropped, log.unreadableTime);
  let latest = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < log.time.length; i++) latest = Math.max(latest, log.time[i] as number);
  // all 0: a mapped log without a time column (--map user=..,item=..), which trains with --no-tune
  if (log.time.length > 0 && latest > 0 && latest < EARLIEST_TIME_S)
    throw new Error(
      `every time of ${path} reads as before 1973 (the latest: ${new Date(latest * 1000).toISOString()}): the time ` +
        "column most likely holds another count than unix seconds, such as Excel's serial days (40513.35 is " +
        "2010-12-01 08:24); write it as dates (2010-12-01 08:26:00) or unix seconds",
    );
  checkRoundedIds(path, log.read, log.dropped);
  const longer = log.dropped[MORE_FIELDS] ?? 0;
  if (log.read > 0 && longer / log.read > MAX_UNREADABLE_SHARE)
    throw new Error(
      `${longer} of ${log.read} rows of ${path} (${((100 * longer) / log.read).toFixed(1)}%) have more fields than ` +
        `its header, more than ${100 * MAX_UNREADABLE_SHARE}%: a field holding the separator (a product name with a ` +
        "comma) is not quoted; write the file with such fields in double quotes",
    );
}

/**
 * Refuses a log holding any id a spreadsheet rounded into scientific notation (ROUNDED_USER, ROUNDED_ITEM,
 * ROUNDED_EVENT): the customers, products or events it merged cannot be told apart again, and the rows dropped for it
 * are every long id's.
 */
function checkRoundedIds(path: string, read: number, dropped: Record<string, number>): void {
  for (const [reason, what] of [
    [ROUNDED_USER, "a customer id"],
    [ROUNDED_ITEM, "an item id"],
    [ROUNDED_EVENT, "an event id"],
  ] as const) {
    const n = dropped[reason] ?? 0;
    if (n === 0) continue;
    throw new Error(
      `${n} of ${read} rows of ${path} have ${what} in scientific notation (such as 6.54321E+12): a spreadsheet ` +
        "rounded the long numbers of that column to a few digits, so different ones read as one. Export the file " +
        "again from the shop's system, or format the column as text in the spreadsheet before saving it as CSV",
    );
  }
}

/** The unreadable times' part of checkReadable. */
function checkTimes(path: string, read: number, dropped: Record<string, number>, example?: UnreadableTime): void {
  const bad = dropped["bad time"] ?? 0;
  if (read === 0 || bad / read <= MAX_UNREADABLE_SHARE) return;
  const first =
    example === undefined ? "" : ` (the first: ${JSON.stringify(example.text.slice(0, 40))}, line ${example.line})`;
  throw new Error(
    `${bad} of ${read} rows of ${path} (${((100 * bad) / read).toFixed(1)}%) have a time that could not be read${first}, ` +
      `more than ${100 * MAX_UNREADABLE_SHARE}%: the time column's format was most likely misread. Read are unix seconds ` +
      "or milliseconds, YYYYMMDD[HHMMSS], YYYY-MM-DD H:MM[:SS[.fff]] (UTC unless a zone follows) and M/D/YYYY or D.M.YYYY " +
      "[H:MM[:SS][ AM|PM]] (one order per file, as its dates or --date-order say); other formats only with their zone: " +
      "write the column as one of these (2010-12-01 08:26:00)",
  );
}

/**
 * Refuses a purchase log whose quantities or prices are not numbers in more than MAX_UNREADABLE_SHARE of its rows (a
 * currency sign, a decimal comma in a comma-separated file): dropped one by one, the rows left would train a model of
 * the whole-number ones.
 */
export function checkNumbers(path: string, log: PurchaseLog): void {
  const columns = log.layout === "online-retail-ii" ? ["Quantity", "Price"] : ["Quantity", "UnitPrice"];
  for (const [i, what] of ["quantity", "price"].entries()) {
    const bad = log.dropped[`${what} not a number`] ?? 0;
    if (log.read === 0 || bad / log.read <= MAX_UNREADABLE_SHARE) continue;
    throw new Error(
      `${bad} of ${log.read} rows of ${path} (${((100 * bad) / log.read).toFixed(1)}%) have a ${columns[i]} that is ` +
        `not a number, more than ${100 * MAX_UNREADABLE_SHARE}%: write numbers plainly, with no currency sign (2.55, ` +
        "not £2.55; a decimal comma, 2,55, reads in a file separated by semicolons or tabs, not commas)",
    );
  }
}

/**
 * Refuses a log keyed by email addresses: user ids would go into profiles.jsonl and, by `npm run seed`, into KV keys
 * (`profile:<user>`), and event ids into profiles' seen ids and the Worker's dedup tables, which the Worker keeps
 * free of them (README, Privacy; it refuses both). The message names the column, not an address.
 */
export function refuseEmailIds(
  path: string,
  column: string,
  ids: readonly string[],
  what: "user id" | "event id" = "user id",
): void {
  const n = ids.filter(looksLikeEmail).length;
  if (n === 0) return;
  const fix =
    what === "user id"
      ? "user ids must be pseudonymous: key readers by a customer number, or by HMAC-SHA256(secret salt, lower-cased email)"
      : "event ids are stored as they are and must hold no email address: key events by an order or message number";
  throw new Error(
    `${n} ${what}(s) in column "${column}" of ${path} look like email addresses; ${fix} (README, Privacy)`,
  );
}

/** The command a purchase log was given to: train alone also reads a log whose columns are named (`--map`). */
export type LogCommand = "train" | "evaluate" | "import";

/** What to do about a log whose every row was dropped for `reason`, when there is something to do. */
const ADVICE: Record<string, (log: PurchaseLog, command: LogCommand) => string> = {
  "not a product stock code": (_log, command) =>
    "the UCI layouts keep product lines only, whose StockCode starts with five digits, as the evaluation protocol " +
    "does; for a shop's own item codes, write the purchases as opentime events (event_id,user_id,type,item_id,ts, " +
    "type purchase)" +
    (command === "train"
      ? ", or train on the file as a mapped log: --map user=CustomerID,item=StockCode,time=InvoiceDate," +
        "weight=Quantity (ALS alone)"
      : ""),
  "missing customer id": (log) =>
    `the ${log.layout === "online-retail-ii" ? "Customer ID" : log.layout === "online-retail" ? "CustomerID" : "user_id"} ` +
    "column is empty: guest orders have no reader to learn from",
  [NOT_A_PURCHASE]: () => 'no row has type "purchase"',
};

/** `dropped`'s reasons, the commonest first. */
const byCount = (dropped: Record<string, number>) => Object.entries(dropped).sort(([, a], [, b]) => b - a);

/**
 * Refuses a purchase log that is empty, holds a header and no rows, or whose every row was dropped: a model trained
 * on nothing, or an evaluation of nothing. Says why the rows were dropped, and what to do about the commonest reason.
 */
export function checkPurchasesLeft(path: string, log: PurchaseLog, command: LogCommand): void {
  if (log.rows > 0) return;
  if (log.read === 0) throw new Error(`${path} has a header and no rows`);
  const reasons = byCount(log.dropped).map(([why, n], i) => {
    const advice = i === 0 ? ADVICE[why]?.(log, command) : undefined;
    return `${n} ${why}${advice ? ` (${advice})` : ""}`;
  });
  throw new Error(`none of the ${log.read} rows of ${path} is a purchase that can be used: ${reasons.join(", ")}`);
}

/** Refuses an interaction log whose every row was dropped, naming a typed log's event types when none has a weight. */
export function checkInteractionsLeft(
  path: string,
  log: InteractionLog,
  typeWeights: Readonly<Record<string, number>> = DEFAULT_TYPE_WEIGHTS,
): void {
  if (log.rows > 0) return;
  if (log.read === 0) throw new Error(`${path} has a header and no rows`);
  const weighted = Object.keys(typeWeights).filter((t) => (typeWeights[t] ?? 0) > 0);
  const reasons = byCount(log.dropped).map(([why, n]) =>
    why === "type weight 0" && log.unweightedTypes.length
      ? `${n} ${why} (types ${log.unweightedTypes.map((t) => JSON.stringify(t)).join(", ")}; weighted: ${weighted.join(", ")})`
      : `${n} ${why}`,
  );
  throw new Error(`none of the ${log.read} rows of ${path} is an interaction that can be used: ${reasons.join(", ")}`);
}

/** One customer above this share of a log is most likely none: guests, or a placeholder id an export wrote. */
export const CROWDED_SHARE = 0.1;

/**
 * A warning, or null: the customer of `ids` who holds more than CROWDED_SHARE of `counts` (one count per customer:
 * rows, or items bought: what `of` names), named with their share. Not refused: a wholesale shop may have such a
 * customer.
 */
export function crowdedCustomerWarning(
  path: string,
  ids: readonly string[],
  counts: ArrayLike<number>,
  of = "purchases",
): string | null {
  let total = 0;
  let top = -1;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    total += n;
    if (top < 0 || n > (counts[top] as number)) top = i;
  }
  if (top < 0 || total === 0) return null;
  const share = (counts[top] as number) / total;
  if (share <= CROWDED_SHARE) return null;
  return (
    `customer ${JSON.stringify(ids[top])} holds ${(100 * share).toFixed(1)}% of ${path}'s ${of}: if that id ` +
    "stands for guests or for no customer, blank it in the file (the models would learn one reader of everyone's buying)"
  );
}
