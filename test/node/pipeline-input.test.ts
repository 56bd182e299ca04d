/**
 * The Node pipeline's readers take what they are given as it is: events whose ids start with a C, day-first dates in
 * mapped logs, one-digit hours, quoted headers, and command-line values the Worker would refuse.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseTime } from "../../scripts/data/interaction-log";
import { readPurchaseLog } from "../../scripts/data/purchase-log";

const dir = mkdtempSync(join(tmpdir(), "ot-input-"));
const file = (name: string, lines: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
};

describe("purchase log", () => {
  it("keeps opentime purchase events whose event id starts with C (only the UCI layouts mark cancellations so)", async () => {
    const path = file("events-c.csv", [
      "event_id,user_id,type,item_id,ts",
      "C3F1A2B4-0000-4000-8000-000000000001,u1,purchase,i1,1700000000",
      "0A1B2C3D-0000-4000-8000-000000000002,u1,purchase,i2,1700000100",
      "CAFE0000-0000-4000-8000-000000000003,u2,purchase,i1,1700000200",
    ]);
    const log = await readPurchaseLog(path);
    expect(log.layout).toBe("opentime-events");
    expect(log.rows).toBe(3);
    expect(log.dropped).toEqual({});
    const uci = file("uci-c.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      "536365,85123A,LANTERN,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
      "C536379,85123A,LANTERN,6,2010-12-01 09:41:00,2.55,17850,United Kingdom",
    ]);
    const cancelled = await readPurchaseLog(uci);
    expect(cancelled.rows).toBe(1);
    expect(cancelled.dropped).toEqual({ "cancellation invoice": 1 });
  });
});

describe("times", () => {
  it("reads an ISO-like time with a one-digit hour as the same time with two", async () => {
    expect(parseTime("2010-12-01 8:26")).toBe(Date.UTC(2010, 11, 1, 8, 26) / 1000);
    expect(parseTime("2010-12-01T8:26:05")).toBe(Date.UTC(2010, 11, 1, 8, 26, 5) / 1000);
    expect(parseTime("2010-12-01 08:26:00")).toBe(Date.UTC(2010, 11, 1, 8, 26) / 1000);
    expect(parseTime("2010-12-01 18:26")).toBe(Date.UTC(2010, 11, 1, 18, 26) / 1000);
    const path = file("one-digit-hour.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      "536365,85123A,LANTERN,6,2010-12-01 8:26,2.55,17850,United Kingdom",
      "536366,71053,LANTERN,6,2010-12-01 13:02,2.55,17850,United Kingdom",
    ]);
    const log = await readPurchaseLog(path);
    expect(log.dropped).toEqual({});
    expect(Array.from(log.time)).toEqual([Date.UTC(2010, 11, 1, 8, 26) / 1000, Date.UTC(2010, 11, 1, 13, 2) / 1000]);
  });
});
