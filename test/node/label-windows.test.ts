/**
 * The evaluation's propensity and time-to-purchase labels: a window that reaches the log's last purchase takes in
 * purchases at that very time, as the recommenders' test window and send time's do.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type PurchaseLog, readPurchaseLog } from "../../scripts/data/purchase-log";
import { temporalSplit } from "../../scripts/data/temporal-split";
import { labelUntil, trainPropensity } from "../../scripts/engagement/propensity";
import { evaluateHazard } from "../../scripts/engagement/time-to-purchase";
import { runEngagementSuite } from "../../scripts/eval/engagement-suite";
import { Progress } from "../../scripts/lib/progress";
import { Rng } from "../../scripts/lib/rng";

const DAY = 86400;
const START = Date.UTC(2011, 0, 3, 9) / 1000;
/** the log's last purchase: one customer's only purchase after day 120 */
const LAST = START + 200 * DAY;

let log: PurchaseLog;

beforeAll(async () => {
  const rng = new Rng(11);
  const stamp = (t: number) => new Date(t * 1000).toISOString().slice(0, 19).replace("T", " ");
  const lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"];
  let invoice = 540_000;
  for (let c = 0; c < 80; c++) {
    const every = 5 + rng.int(40);
    for (let day = rng.int(30); day < 199; day += every + rng.int(10)) {
      const t = START + day * DAY + rng.int(8) * 3600;
      lines.push(
        `${invoice++},${20_000 + rng.int(30)},MUG,${1 + rng.int(4)},${stamp(t)},2.5,${13_000 + c},United Kingdom`,
      );
    }
  }
  lines.push(`${invoice++},20001,MUG,1,${stamp(START)},2.5,19999,United Kingdom`);
  lines.push(`${invoice++},20002,MUG,1,${stamp(LAST)},2.5,19999,United Kingdom`);
  const path = join(mkdtempSync(join(tmpdir(), "ot-labels-")), "shop.csv");
  writeFileSync(path, `${lines.join("\n")}\n`);
  log = await readPurchaseLog(path);
});

describe("label windows", () => {
  it("stop at end + 1 when they reach the log's end, at from + days otherwise", () => {
    expect(labelUntil(100, 1, 100 + DAY)).toBe(100 + DAY + 1);
    expect(labelUntil(100, 1, 100 + DAY + 5)).toBe(100 + DAY);
    expect(labelUntil(100, 1)).toBe(100 + DAY);
  });

  it("the propensity's test labels count a purchase at the log's last timestamp", () => {
    const test = temporalSplit(log, 30);
    expect(test.end).toBe(LAST);
    const customer = log.customerIds.indexOf("19999");
    const result = trainPropensity(log, test.cutoff, 30, test.end);
    const { positives, customers } = result;
    // the same count by hand: customers known before the cutoff who bought in [cutoff, end]
    const known = new Set<number>();
    const bought = new Set<number>();
    for (let i = 0; i < log.rows; i++) {
      const t = log.time[i] as number;
      const c = log.customer[i] as number;
      if (t < test.cutoff) known.add(c);
      else if (t <= test.end) bought.add(c);
    }
    expect(known.has(customer) && bought.has(customer)).toBe(true);
    expect(customers).toBe(known.size);
    expect(positives).toBe([...bought].filter((c) => known.has(c)).length);
    // and the evaluation asks for them so
    const quiet = { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;
    const suite = runEngagementSuite(log, test.cutoff, test.end, 30, new Progress(10, "", quiet));
    expect(suite.propensity.positives).toBe(positives);
  });

  it("so do the time-to-purchase's, when the week reaches the end", () => {
    const cutoff = LAST - 7 * DAY;
    const hazard = evaluateHazard(log, cutoff, LAST);
    const known = new Set<number>();
    const bought = new Set<number>();
    for (let i = 0; i < log.rows; i++) {
      const t = log.time[i] as number;
      if (t < cutoff) known.add(log.customer[i] as number);
      else bought.add(log.customer[i] as number);
    }
    expect(bought.has(log.customerIds.indexOf("19999"))).toBe(true);
    expect(hazard?.positives).toBe([...bought].filter((c) => known.has(c)).length);
  });

  it("a window the log stops short of is not judged: who did not buy in it is censored, not a negative", () => {
    // 10 days after the cutoff: the week is judged, the 30 days are not (nobody was followed that long)
    const tenDays = evaluateHazard(log, LAST - 10 * DAY, LAST);
    expect(tenDays?.auc).toBeGreaterThan(0);
    expect(tenDays?.auc_30d).toBeNull();
    // 3 days: not even the week
    expect(evaluateHazard(log, LAST - 3 * DAY, LAST)).toBeNull();
    // the whole 30 days (up to the last purchase, end + 1): both
    const month = evaluateHazard(log, LAST - 30 * DAY, LAST);
    expect(month?.auc_30d).toBeGreaterThan(0);
  });
});
