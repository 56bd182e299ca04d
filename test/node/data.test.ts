/** Sparse matrices and the interaction-log reader (mapping, weights, drop counts, gzip). */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { readHeaderLine } from "../../scripts/data/csv-input";
import { interactionMatrix, parseMapping, parseTime, readInteractionLog } from "../../scripts/data/interaction-log";
import { readPurchaseLog } from "../../scripts/data/purchase-log";
import { csrFromCoo, rowData, rowIndices, transpose } from "../../scripts/data/sparse";

describe("sparse", () => {
  it("sums duplicates, sorts columns, and transposes", () => {
    const m = csrFromCoo(2, 3, [0, 0, 1, 0], [2, 0, 1, 2], [1, 2, 3, 4]);
    expect(Array.from(rowIndices(m, 0))).toEqual([0, 2]);
    expect(Array.from(rowData(m, 0))).toEqual([2, 5]);
    const t = transpose(m);
    expect(t.rows).toBe(3);
    expect(Array.from(rowIndices(t, 2))).toEqual([0]);
    expect(Array.from(rowData(t, 1))).toEqual([3]);
  });
});

describe("interaction log", () => {
  const dir = mkdtempSync(join(tmpdir(), "ot-log-"));

  it("reads a mapped CSV (gzip), weighting and dropping with reasons", async () => {
    const csv = [
      "CustomerID,StockCode,InvoiceDate,Quantity",
      "12346,85123A,2010-12-01 08:26:00,6",
      "12346,71053,2010-12-01 08:26:00,2",
      ",71053,2010-12-01 08:26:00,2",
      "12347,85123A,2010-12-02 09:00:00,-1",
      "12347,85123A,not a date,1",
      "12347,22752,2010-12-02 09:00:00,3",
    ].join("\n");
    const path = join(dir, "log.csv.gz");
    writeFileSync(path, gzipSync(csv));
    const log = await readInteractionLog(path, {
      mapping: parseMapping("user=CustomerID,item=StockCode,time=InvoiceDate,weight=Quantity"),
    });
    expect(log.rows).toBe(3);
    expect(log.userIds).toEqual(["12346", "12347"]);
    expect(log.dropped).toEqual({ "missing user": 1, "non-positive weight": 1, "bad time": 1 });
    expect(log.time[0]).toBe(Date.UTC(2010, 11, 1, 8, 26) / 1000);
    const m = interactionMatrix(log);
    expect(Array.from(rowData(m, 0))).toEqual([6, 2]);
  });

  it("weights typed events and drops zero-weight types", async () => {
    const path = join(dir, "events.csv");
    writeFileSync(
      path,
      "user_id,item_id,ts,type\nu1,a,100,view\nu1,a,101,purchase\nu1,,102,email_open\nu2,b,103,cart_remove\n",
    );
    const log = await readInteractionLog(path);
    expect(log.rows).toBe(2);
    expect(Array.from(log.weight)).toEqual([1, 6]);
    expect(log.dropped).toEqual({ "missing item": 1, "type weight 0": 1 });
  });

  it("names the missing column", async () => {
    const path = join(dir, "bad.csv");
    writeFileSync(path, "a,b\n1,2\n");
    await expect(readInteractionLog(path)).rejects.toThrow(/column "user_id" not in/);
  });

  // before, a read error inside `pipe` was an unhandled stream error that crashed the process with a stack trace
  it("rejects a missing file or a corrupt gzip (an error for the CLI to print), not a crash", async () => {
    const missing = join(dir, "no-such-file.csv.gz");
    await expect(readPurchaseLog(missing)).rejects.toThrow(/no-such-file.csv.gz: no such file \(ENOENT\)/);
    await expect(readInteractionLog(missing)).rejects.toThrow(/ENOENT/);
    await expect(readHeaderLine(missing)).rejects.toThrow(/ENOENT/);
    const corrupt = join(dir, "corrupt.csv.gz");
    writeFileSync(corrupt, Buffer.concat([gzipSync("user_id,item_id,ts,type\n").subarray(0, 12), Buffer.from("junk")]));
    await expect(readInteractionLog(corrupt)).rejects.toThrow();
    await expect(readPurchaseLog(corrupt)).rejects.toThrow();
  });

  it("drops, counted, the rows of ids the Worker would refuse: a reader no token could name, an item no event could", async () => {
    const path = join(dir, "unservable.csv");
    const long = "u".repeat(129);
    writeFileSync(
      path,
      [
        "event_id,user_id,type,item_id,ts",
        "e1,ok,purchase,p1,2010-12-01 08:26:00",
        `e2,${long},purchase,p1,2010-12-01 08:30:00`,
        "e3,..,purchase,p1,2010-12-01 09:00:00",
        `e4,ok,purchase,${"p".repeat(129)},2010-12-01 09:10:00`,
        "e5,ok,view,p2,2010-12-01 09:20:00",
        `e6,${"u".repeat(128)},view,p2,2010-12-01 09:30:00`,
        // 65 emoji: 65 characters, as IdSchema counts, but 130 UTF-16 units, past a user id's bound (its KV keys)
        `e7,${"\u{1F600}".repeat(65)},purchase,p2,2010-12-01 09:40:00`,
        // an item id keeps IdSchema's bound alone
        `e8,ok,purchase,${"\u{1F600}".repeat(65)},2010-12-01 09:50:00`,
      ].join("\n"),
    );
    const interactions = await readInteractionLog(path);
    const purchases = await readPurchaseLog(path);
    expect([...interactions.userIds].sort()).toEqual(["ok", "u".repeat(128)]);
    expect([...purchases.customerIds]).toEqual(["ok"]);
    expect(interactions.dropped).toMatchObject({ "user id the Worker refuses": 3, "item id the Worker refuses": 1 });
    expect(purchases.dropped).toMatchObject({ "user id the Worker refuses": 3, "item id the Worker refuses": 1 });
    expect(purchases.itemIds).toContain("\u{1F600}".repeat(65));
  });

  it("keys a reader the same in both readers when a spreadsheet wrote their id as a float", async () => {
    const path = join(dir, "typed.csv");
    writeFileSync(
      path,
      [
        "event_id,user_id,type,item_id,ts",
        "e1,17850.0,view,p1,2010-12-01 08:26:00",
        "e2,17850.0,purchase,p1,2010-12-01 08:30:00",
        "e3,A1.0,purchase,p2,2010-12-01 09:00:00",
      ].join("\n"),
    );
    const interactions = await readInteractionLog(path);
    const purchases = await readPurchaseLog(path);
    expect([...interactions.userIds].sort()).toEqual(["17850", "A1.0"]);
    expect([...purchases.customerIds].sort()).toEqual(["17850", "A1.0"]);
  });

  it("parses seconds, milliseconds and dates", () => {
    expect(parseTime("1700000000")).toBe(1700000000);
    expect(parseTime("1700000000000")).toBe(1700000000);
    expect(parseTime("2011-12-09 12:50:00")).toBe(Date.UTC(2011, 11, 9, 12, 50) / 1000);
    // compact dates are dates, not seconds of 1970 nor milliseconds of 2607
    expect(parseTime("20111209")).toBe(Date.UTC(2011, 11, 9) / 1000);
    expect(parseTime("20111209125001")).toBe(Date.UTC(2011, 11, 9, 12, 50, 1) / 1000);
    // 8 digits that are no date stay numbers; 14 that are none are milliseconds past the year 2100: no time
    expect(parseTime("99999999")).toBe(99_999_999);
    expect(parseTime("17000000000000")).toBeNaN();
    expect(() => parseMapping("user=a")).toThrow(/item/);
  });

  it("reads microseconds and nanoseconds (GA4's and BigQuery's exports), and no time from the year 2100 on", () => {
    expect(parseTime("1700000000123456")).toBeCloseTo(1_700_000_000.123456, 6);
    expect(parseTime("1700000000123456789")).toBeCloseTo(1_700_000_000.123, 3);
    // the year 2100 in any unit, or as a date: a misread, never a purchase (it would move every window)
    for (const late of ["4102444800", "4102444800000", "2100-01-01 00:00:00", "2250-06-01"])
      expect(parseTime(late), late).toBeNaN();
    expect(parseTime("4102444799")).toBe(4_102_444_799);
  });
});
