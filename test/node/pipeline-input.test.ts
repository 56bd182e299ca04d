/**
 * The Node pipeline's readers take what they are given as it is: events whose ids start with a C, day-first dates in
 * mapped logs, one-digit hours, quoted headers, and command-line values the Worker would refuse.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CatalogItem } from "../../core/catalog";
import { customerId, parseMapping, parseTime, readInteractionLog } from "../../scripts/data/interaction-log";
import { checkReadable, crowdedCustomerWarning } from "../../scripts/data/log-checks";
import { readPurchaseLog } from "../../scripts/data/purchase-log";
import { allEntries, readPools } from "../../scripts/seed/kv-entries";
import { trainAndExport } from "../../scripts/train/pipeline";
import { tuneOnValidation } from "../../scripts/train/steps/tune-on-validation";
import { loadTrainingSet } from "../../scripts/train/training-set";
import { shownPrice } from "../../worker/recs/amp-items";

const dir = mkdtempSync(join(tmpdir(), "ot-input-"));
const file = (name: string, lines: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
};

describe("purchase log", () => {
  it("reads each row's time from the file's distinct times, and names the first unreadable one by its line", async () => {
    const path = file("times.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      '536365,85123A,"WHITE',
      'LANTERN",6,2/12/2010 08:26,2.55,17850,United Kingdom',
      "536366,71053,LANTERN,6,31 Dec 2010,3.39,17850,United Kingdom",
      "536367,71053,LANTERN,6,2/12/2010 08:26,3.39,17851,United Kingdom",
      // the day first: this row settles the file's order, the rows before it included
      "536368,71053,LANTERN,6,13/12/2010 09:00,3.39,17851,United Kingdom",
      "536369,71053,LANTERN,6,31 Dec 2010,3.39,17852,United Kingdom",
    ]);
    const log = await readPurchaseLog(path);
    expect(log.unreadableTime).toEqual({ text: "31 Dec 2010", line: 4 });
    expect(log.dropped).toEqual({ "bad time": 2 });
    expect(Array.from(log.time, (t) => new Date(t * 1000).toISOString())).toEqual([
      "2010-12-02T08:26:00.000Z",
      "2010-12-02T08:26:00.000Z",
      "2010-12-13T09:00:00.000Z",
    ]);
  });

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

describe("rows dropped for their time", () => {
  it("leave no customer, item or invoice behind that no row kept names (an empty profile of no purchase)", async () => {
    const path = file("late-bad-time.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      ...Array.from({ length: 30 }, (_, i) => `5363${i},85123A,LANTERN,6,2010-12-0${1 + (i % 9)} 08:26,2.55,17850,UK`),
      "536399,71053,MUG,6,not a time,3.39,12583,France",
    ]);
    const log = await readPurchaseLog(path);
    expect(log.dropped).toEqual({ "bad time": 1 });
    // before: 12583, 71053 and 536399 stayed, and train wrote a profile for 12583 with no purchase in it
    expect(log.customerIds).toEqual(["17850"]);
    expect(log.itemIds).toEqual(["85123A"]);
    expect(log.invoiceIds).toHaveLength(30);
    expect(log.countries).toEqual(["UK"]);
    expect(Array.from(log.customer)).toEqual(Array(30).fill(0));
    const ts = await loadTrainingSet({ data: path });
    expect(ts.purchases.customerIds).toEqual(ts.full.userIds);
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

describe("dates no calendar has", () => {
  it("are unreadable, not rolled over into the next month (the events API refuses them too)", async () => {
    // before: 2011-02-29 was 1 March, 31/04/2011 1 May, 20110931 1 October: each a purchase moved, silently
    for (const [raw, order] of [
      ["2011-02-29 10:00", null],
      ["2011/09/31", null],
      ["20110931", null],
      ["20110229101500", null],
      ["31/04/2011 10:00", "dmy"],
      ["04/31/2011 10:00 AM", "mdy"],
      ["30.02.11", "dmy"],
    ] as const)
      expect(parseTime(raw, order), raw).toBeNaN();
    // the days that are
    expect(parseTime("2012-02-29 10:00")).toBe(Date.UTC(2012, 1, 29, 10) / 1000);
    expect(parseTime("30/04/2011 10:00", "dmy")).toBe(Date.UTC(2011, 3, 30, 10) / 1000);
    expect(parseTime("20111231")).toBe(Date.UTC(2011, 11, 31) / 1000);
    const log = await readPurchaseLog(
      file("no-such-day.csv", [
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        ...Array.from({ length: 30 }, (_, i) => `${536365 + i},85123A,LANTERN,6,2011-02-${i + 1} 08:26,2.55,1,UK`),
      ]),
    );
    expect(log.dropped).toEqual({ "bad time": 2 });
  });
});

describe("dates no calendar has, written with the month's name", () => {
  it("are unreadable too, not rolled over by Date.parse into the next month", () => {
    // before: each was read as 1 May 2011 10:00 (or 1 March), a purchase moved silently, as dd-mm dates were
    for (const raw of [
      "Sun, 31 Apr 2011 10:00:00 GMT",
      "31 Apr 2011 10:00 +0000",
      "Apr 31, 2011 10:00:00 GMT",
      "April 31 2011 10:00 UTC",
      "Sat Apr 31 2011 10:00:00 GMT+0000",
      "Tue, 29 Feb 2011 10:00:00 GMT",
    ])
      expect(parseTime(raw), raw).toBeNaN();
    // the days that are, a leap day and a month's last among them
    expect(parseTime("Fri, 09 Dec 2011 12:50:00 GMT")).toBe(Date.UTC(2011, 11, 9, 12, 50) / 1000);
    expect(parseTime("Wed, 29 Feb 2012 10:00:00 GMT")).toBe(Date.UTC(2012, 1, 29, 10) / 1000);
    expect(parseTime("Apr 30, 2011 23:30:00 -0100")).toBe(Date.UTC(2011, 4, 1, 0, 30) / 1000);
    expect(parseTime("31 December 2011 10:00 GMT")).toBe(Date.UTC(2011, 11, 31, 10) / 1000);
  });
});

describe("unreadable numbers", () => {
  const header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
  const lines = (price: (i: number) => string) =>
    Array.from(
      { length: 40 },
      (_, i) =>
        `${536365 + i},${85123 + (i % 7)},LANTERN,2,2010-12-${String(1 + (i % 28)).padStart(2, "0")} 08:26:00,"${price(i)}",${17850 + (i % 9)},United Kingdom`,
    );

  it("counts a price that is not a number apart from one that is not positive", async () => {
    const log = await readPurchaseLog(file("comma-one.csv", [header, ...lines((i) => (i === 0 ? "2,55" : "2.55"))]));
    expect(log.rows).toBe(39);
    expect(log.dropped).toEqual({ "price not a number": 1 });
  });

  it("drops what Number() reads but no export means (Infinity, hex) and numbers past the events API's bound", async () => {
    const odd: Record<number, string> = { 0: "Infinity", 1: "0x10", 2: "1e400", 3: "-Infinity", 4: "2e9" };
    const path = file("odd-prices.csv", [header, ...lines((i) => odd[i] ?? (i === 5 ? "2.5e1" : "2.55"))]);
    const log = await readPurchaseLog(path);
    // before: Infinity, 16 and Infinity were prices, and one infinite value ended training at its engagement models
    // ("x holds a non-finite value", naming no row), after the minutes of fitting the recommenders
    expect(log.dropped).toEqual({ "price not a number": 4, "price above 1e9": 1 });
    expect(Array.from(log.price).every((p) => p <= 1e9)).toBe(true);
    expect(log.price).toContain(25);
    const tsv = file("odd-weights.tsv", [
      "u\ti\tt\tw",
      "u1\ti1\t1700000000\tInfinity",
      "u1\ti2\t1700000001\t0x10",
      "u1\ti3\t1700000002\t1e300",
      "u1\ti4\t1700000003\t2",
    ]);
    const events = await readInteractionLog(tsv, { mapping: parseMapping("user=u,item=i,time=t,weight=w") });
    expect(events.dropped).toEqual({ "non-positive weight": 2, "weight above 1e9": 1 });
    expect(Array.from(events.weight)).toEqual([2]);
  });

  it("stops training when prices are written with a decimal comma, instead of training on the whole-number ones", async () => {
    // every price but the whole ones is unreadable: a model of a few rows was trained and shipped
    const path = file("comma-prices.csv", [header, ...lines((i) => (i % 4 === 0 ? "3" : "2,55"))]);
    await expect(loadTrainingSet({ data: path })).rejects.toThrow(/30 of 40 rows .* UnitPrice .* not a number/);
  });
});

describe("email-shaped user ids", () => {
  it("stops training, naming the column but not the address, rather than write emails into profiles and KV keys", async () => {
    const uci = file("email-customers.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      "536365,85123A,LANTERN,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
      "536366,71053,MUG,6,2010-12-02 08:26:00,3.39,jane.doe@example.com,United Kingdom",
    ]);
    const refused = loadTrainingSet({ data: uci });
    await expect(refused).rejects.toThrow(/"CustomerID" .*email address.*pseudonymous/);
    await expect(refused).rejects.not.toThrow(/jane/);
    const mapped = file("email-users.csv", ["who,sku,at", "jane.doe@example.com,a,1700000000", "u2,b,1700000100"]);
    await expect(loadTrainingSet({ data: mapped, mapping: parseMapping("user=who,item=sku,time=at") })).rejects.toThrow(
      /"who" .*email address/,
    );
  });
});

describe("a mapped log's purchases", () => {
  it("are read as purchases when its type column is mapped (histories, segments, send time come from them)", async () => {
    const path = file("mapped-kinds.csv", [
      "at,kind,sku,uid,extra",
      "1700000000,purchase,a,c1,x",
      "1700000100,view,b,c1,x",
      "1700086400,purchase,b,c2,x",
      "1700090000,cart_add,a,c2,x",
    ]);
    const ts = await loadTrainingSet({ data: path, mapping: parseMapping("user=uid,item=sku,time=at,type=kind") });
    expect(ts.purchases.rows).toBe(2);
    expect(ts.purchases.customerIds).toEqual(["c1", "c2"]);
    expect(ts.purchases.itemIds).toEqual(["a", "b"]);
    expect(Array.from(ts.purchases.time)).toEqual([1700000000, 1700086400]);
    // a log of weights alone names no purchases
    const weights = await loadTrainingSet({ data: path, mapping: parseMapping("user=uid,item=sku,time=at") });
    expect(weights.purchases.rows).toBe(0);
  });

  it("are a purchase whatever spaces its type has, as the interaction reader takes it", async () => {
    const path = file("spaced-kinds.csv", [
      "at,kind,sku,uid",
      "1700000000,purchase ,a,c1",
      "1700000100, purchase,b,c1",
      "1700086400,purchase,b,c2",
      "1700090000,view ,a,c2",
    ]);
    const ts = await loadTrainingSet({ data: path, mapping: parseMapping("user=uid,item=sku,time=at,type=kind") });
    // before: 1 (ALS weighed all three as purchases, the histories and segments saw one)
    expect(ts.purchases.rows).toBe(3);
    expect(ts.purchases.dropped).toEqual({ "not a purchase event": 1 });
    const events = file("spaced-events.csv", [
      "event_id,user_id,type,item_id,ts",
      "e1,u1,purchase ,i1,1700000000",
      "e2,u2,view,i1,1700000100",
    ]);
    expect((await loadTrainingSet({ data: events })).purchases.rows).toBe(1);
  });

  it("are not read from a log mapped without time, and train says so rather than drop them unsaid", async () => {
    const rows = Array.from(
      { length: 90 },
      (_, i) => `c${i % 30};s${i % 11};${["purchase", "view", "cart_add"][i % 3]};1`,
    );
    const path = file("timeless-kinds.csv", ["uid;sku;kind;qty", ...rows]);
    const mapping = parseMapping("user=uid,item=sku,type=kind");
    const ts = await loadTrainingSet({ data: path, mapping });
    expect(ts.purchases.rows).toBe(0);
    // before: every purchase dropped as "bad time", which nothing printed
    expect(ts.purchases.dropped).toEqual({ "not a purchase event": 60, "no time column": 30 });
    const lines: string[] = [];
    const res = await trainAndExport({
      data: path,
      mapping,
      out: join(dir, "timeless-models"),
      als: { factors: 4, iterations: 2 },
      tune: false,
      pools: false,
      goldenUsers: 2,
      log: (m) => lines.push(m),
    });
    expect(lines).toContain(`read 90 rows of ${path}; dropped none`);
    expect(lines).toContain(
      "purchases (the rows of type purchase; histories, segments, send time and propensity come from them): 0 of 30 kept; dropped 30 no time column",
    );
    expect(lines).toContain(
      `warning: the 30 purchases of ${path} have no time (--map names no time column), which purchase histories, ` +
        "segments, send time and propensity need: no profile holds a purchase; map one (--map ...,time=<column>)",
    );
    expect(res.profiles).toBe(30);
  });

  it("train says what it kept of an event log's purchases, and why it dropped the others", async () => {
    const rows = Array.from({ length: 60 }, (_, i) => {
      const kind = i % 3 === 0 ? "purchase" : "view";
      return `e${i},${i === 3 ? "" : `u${i % 7}`},${kind},i${i % 5},${i === 6 ? "someday" : 1_700_000_000 + i * 3600}`;
    });
    const data = file("events-dropped.csv", ["event_id,user_id,type,item_id,ts", ...rows]);
    const lines: string[] = [];
    await trainAndExport({
      data,
      out: join(dir, "events-dropped"),
      tune: false,
      pools: false,
      log: (m) => lines.push(m),
    });
    expect(lines).toContain(
      "purchases (the rows of type purchase; histories, segments, send time and propensity come from them): 18 of 20 kept; dropped 1 missing customer id, 1 bad time",
    );
    // a log mapped without type names none, and train says so
    const mapped = file("weights-only.csv", ["id,who,kind,what,at", ...rows]);
    const weights: string[] = [];
    await trainAndExport({
      data: mapped,
      mapping: parseMapping("user=who,item=what,time=at"),
      out: join(dir, "events-weights"),
      tune: false,
      pools: false,
      log: (m) => weights.push(m),
    });
    expect(weights).toContain(
      "purchases: none (the log is mapped without type, and its rows are no purchases: --map ...,type=<column> names them)",
    );
  });
});

describe("catalog files", () => {
  const log = () =>
    file("catalog-log.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      "536365,85123A,LANTERN,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    ]);
  const catalog = (name: string, json: unknown) => file(name, [JSON.stringify(json)]);

  it("names the entry and field that is wrong, not a bare list of issues", async () => {
    const path = catalog("no-price.json", [
      { id: "85123A", title: "Lantern", category: "", price: 2.55, currency: "GBP", image: "", url: "" },
      { id: "71053", title: "Mug", category: "", currency: "GBP", image: "", url: "" },
    ]);
    await expect(loadTrainingSet({ data: log(), catalog: path })).rejects.toThrow(
      /no-price\.json: entry 1 \(id "71053"\): price: /,
    );
  });

  it("titles an item without one in the catalog file from its description, a capital at each word's start only", async () => {
    const path = file("titles-log.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      "536365,22086,PAPER CHAIN KIT 50'S CHRISTMAS ,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
      "536365,21913,POPPY'S PLAYHOUSE KITCHEN,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
      "536365,21914,ÉCHARPE CAFÉ CRÈME,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
      "536365,21915,ÖLFLASCHE T-LIGHT 3D,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    ]);
    const ts = await loadTrainingSet({ data: path });
    const title = (id: string) => ts.catalog.find((c) => c.id === id)?.title;
    // before: "Paper Chain Kit 50'S Christmas", "Poppy'S ...", "éCharpe Café CrèMe", "öLflasche ..."
    expect(title("22086")).toBe("Paper Chain Kit 50's Christmas");
    expect(title("21913")).toBe("Poppy's Playhouse Kitchen");
    expect(title("21914")).toBe("Écharpe Café Crème");
    expect(title("21915")).toBe("Ölflasche T-Light 3d");
  });

  it("prices the log's items the catalog file lacks in the catalog's currency, not GBP, when --currency is not given", async () => {
    const two = file("two-items.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      "536365,85123A,LANTERN,6,2010-12-01 08:26:00,2.55,17850,France",
      "536365,71053,MUG,6,2010-12-01 08:26:00,3.39,17850,France",
    ]);
    const item = { id: "85123A", title: "Lantern", category: "", price: 2.55, currency: "EUR", image: "", url: "" };
    const euros = catalog("euro-catalog.json", [item]);
    const currency = async (opts: { catalog?: string; currency?: string }) =>
      Object.fromEntries((await loadTrainingSet({ data: two, ...opts })).catalog.map((c) => [c.id, c.currency]));
    // before: 71053 (a product the catalog no longer lists) was priced in pounds in a shop that sells in euros
    expect(await currency({ catalog: euros })).toEqual({ "85123A": "EUR", "71053": "EUR" });
    expect(await currency({ catalog: euros, currency: "USD" })).toEqual({ "85123A": "EUR", "71053": "USD" });
    expect(await currency({})).toEqual({ "85123A": "GBP", "71053": "GBP" });
  });

  it("reads one a Windows tool saved with a byte-order mark, as the CSV readers do", async () => {
    const item = { id: "85123A", title: "Lantern", category: "", price: 2.55, currency: "GBP", image: "", url: "" };
    const path = file("bom-catalog.json", [`\uFEFF${JSON.stringify([item])}`]);
    const ts = await loadTrainingSet({ data: log(), catalog: path });
    expect(ts.catalog.find((c) => c.id === "85123A")?.title).toBe("Lantern");
  });

  it("says what --catalog takes of a file that is not JSON (a catalog exported as CSV)", async () => {
    const path = file("products.csv", ["id,title,price", "85123A,Lantern,2.55"]);
    await expect(loadTrainingSet({ data: log(), catalog: path })).rejects.toThrow(
      /products\.csv: not JSON .*--catalog takes a JSON array of items \{id,title,category,price,currency,image,url\}, not CSV/,
    );
  });

  it("says what it expected of a file that is not an array of items", async () => {
    const path = catalog("object.json", { items: [] });
    await expect(loadTrainingSet({ data: log(), catalog: path })).rejects.toThrow(
      /object\.json: expected a JSON array of items/,
    );
  });
});

describe("times the machine's zone must not change", () => {
  const utc = (y: number, m: number, d: number, h: number, min: number, sec = 0) =>
    Date.UTC(y, m - 1, d, h, min, sec) / 1000;
  const inZone = <T>(tz: string, f: () => T): T => {
    const before = process.env.TZ;
    process.env.TZ = tz;
    try {
      return f();
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  };

  it("reads zone-less times with fractions of a second, and year-first slash dates, as UTC wherever it runs", () => {
    inZone("America/New_York", () => {
      expect(parseTime("2011-12-09 12:50:00.123")).toBeCloseTo(utc(2011, 12, 9, 12, 50) + 0.123, 6);
      expect(parseTime("2011-12-09T12:50:00.123456")).toBeCloseTo(utc(2011, 12, 9, 12, 50) + 0.123456, 5);
      expect(parseTime("2011/12/09 12:50:00")).toBe(utc(2011, 12, 9, 12, 50));
      // a zone written in the time is honoured (Postgres writes +00, +01:00...)
      expect(parseTime("2011-12-09 12:50:00.5+01")).toBe(utc(2011, 12, 9, 11, 50) + 0.5);
      expect(parseTime("2011-12-09T12:50:00-0500")).toBe(utc(2011, 12, 9, 17, 50));
      expect(parseTime("2011-12-09T12:50:00Z")).toBe(utc(2011, 12, 9, 12, 50));
      expect(parseTime("2011-12-09")).toBe(utc(2011, 12, 9, 0, 0));
      expect(parseTime("Fri, 09 Dec 2011 12:50:00 GMT")).toBe(utc(2011, 12, 9, 12, 50));
    });
  });

  it("reads a day-and-month date with a zone in the file's order, not month-first as Date.parse does", async () => {
    expect(parseTime("13/01/2011 08:26 GMT", "dmy")).toBe(utc(2011, 1, 13, 8, 26));
    // before: 2010-01-12, whatever the file's order
    expect(parseTime("01/12/2010 08:26 GMT", "dmy")).toBe(utc(2010, 12, 1, 8, 26));
    expect(parseTime("01/12/2010 08:26 +01:00", "dmy")).toBe(utc(2010, 12, 1, 7, 26));
    expect(parseTime("01.12.2010 08:26:30 UTC", "dmy")).toBe(utc(2010, 12, 1, 8, 26, 30));
    expect(parseTime("12/01/2010 8:45 PM -0500", "mdy")).toBe(utc(2010, 12, 2, 1, 45));
    const head = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
    const row = (day: string) => `536365,85123A,LANTERN,6,${day} 08:26 GMT,2.55,17850,United Kingdom`;
    // the order from the file's dates, zoned ones too
    const log = await readPurchaseLog(file("zoned-dmy.csv", [head, row("13/01/2011"), row("01/12/2010")]));
    expect(Array.from(log.time)).toEqual([utc(2011, 1, 13, 8, 26), utc(2010, 12, 1, 8, 26)]);
    // and none guessed where no date settles it (before: read month-first, silently)
    await expect(
      readPurchaseLog(file("zoned-unsettled.csv", [head, row("01/12/2010"), row("02/12/2010")])),
    ).rejects.toThrow(/no date says whether its dates are day or month first .*--date-order dmy/);
  });

  it("does not guess at other zone-less formats (a dotted day-first date was read month-first, in local time)", () => {
    inZone("America/New_York", () => {
      expect(parseTime("09.12.2011 12:50")).toBeNaN();
      expect(parseTime("Dec 9 2011 12:50")).toBeNaN();
      expect(parseTime("2011-13-09 12:50")).toBeNaN();
    });
  });
});

describe("mapped logs' dates", () => {
  const mapping = parseMapping("user=customer,item=sku,time=at");
  const at = (y: number, m: number, d: number, h = 0, min = 0) => Date.UTC(y, m - 1, d, h, min) / 1000;

  it("reads day-first slash dates day-first, as the purchase reader does", async () => {
    const path = file("dmy.csv", [
      "customer,sku,at",
      "c1,a,02/01/2011 08:26",
      "c1,b,13/01/2011 09:00",
      "c2,a,25/12/2010 17:45",
      "c2,c,05/03/2011 10:00",
    ]);
    const log = await readInteractionLog(path, { mapping });
    expect(log.dropped).toEqual({});
    expect(log.read).toBe(4);
    expect(Array.from(log.time)).toEqual([
      at(2011, 1, 2, 8, 26),
      at(2011, 1, 13, 9),
      at(2010, 12, 25, 17, 45),
      at(2011, 3, 5, 10),
    ]);
    // month-first stays month-first
    const mdy = await readInteractionLog(file("mdy.csv", ["customer,sku,at", "c1,a,02/01/2011", "c1,b,12/31/2010"]), {
      mapping,
    });
    expect(Array.from(mdy.time)).toEqual([at(2011, 2, 1), at(2010, 12, 31)]);
  });

  it("indexes only users and items of rows kept", async () => {
    const log = await readInteractionLog(
      file("bad-first.csv", ["customer,sku,at", "c0,z,yesterday", "c1,a,2011-01-02 08:26", "c2,b,1294000000"]),
      { mapping },
    );
    expect(log.dropped).toEqual({ "bad time": 1 });
    expect(log.userIds).toEqual(["c1", "c2"]);
    expect(log.itemIds).toEqual(["a", "b"]);
    expect(Array.from(log.user)).toEqual([0, 1]);
    expect(Array.from(log.item)).toEqual([0, 1]);
  });

  it("train stops when more than 5% of the rows have a time it cannot read", async () => {
    // the sixth to eighth rows (lines 7 to 9): the first is named by its line
    const bad = (i: number) => i >= 5 && i < 8;
    const rows = Array.from({ length: 40 }, (_, i) => `c${i % 10},i${i % 7},${bad(i) ? "31 Dec 2010" : "2011-01-02"}`);
    const path = file("bad-times.csv", ["customer,sku,at", ...rows]);
    await expect(loadTrainingSet({ data: path, mapping })).rejects.toThrow(
      /^3 of 40 rows of .*bad-times\.csv \(7\.5%\) have a time that could not be read \(the first: "31 Dec 2010", line 7\), more than 5%.*: write the column as one of these \(2010-12-01 08:26:00\)$/,
    );
  });

  it("train says what it dropped (one line, by reason) and keeps it in the manifest", async () => {
    const rows = Array.from({ length: 200 }, (_, i) => {
      const when = i === 7 ? "31 Dec 2010" : `${String(1 + (i % 28)).padStart(2, "0")}/0${1 + (i % 3)}/2011 9:00`;
      return `c${i % 40},${i % 11 === 0 ? "" : `i${(i * 7) % 13}`},${when}`;
    });
    const path = file("some-dropped.csv", ["customer,sku,at", ...rows]);
    const lines: string[] = [];
    const res = await trainAndExport({
      data: path,
      mapping,
      out: join(dir, "models"),
      als: { factors: 4, iterations: 2 },
      tune: false,
      pools: false,
      goldenUsers: 2,
      log: (m) => lines.push(m),
    });
    const dropped = lines.filter((l) => l.startsWith("read "));
    expect(dropped).toEqual([`read 200 rows of ${path}; dropped 19 missing item, 1 bad time`]);
    // a log alone has no pictures or links for its items: said before the emails show it
    expect(lines).toContain(
      "13 of 13 items have no picture or no link (no --catalog): their cards show none, and a click on one goes to the shop's home (SHOP_URL); --catalog products.json gives them",
    );
    expect(res.manifest.training.rowsRead).toBe(200);
    expect(res.manifest.training.dropped).toEqual({ "missing item": 19, "bad time": 1 });
  });
});

describe("train's layout", () => {
  const II = '"Invoice","StockCode","Description","Quantity","InvoiceDate","Price","Customer ID","Country"';
  const line = (inv: number, code: string, day: number, customer: number) =>
    `${inv},${code},"LANTERN, WHITE",2,2011-0${1 + Math.floor(day / 28)}-${String(1 + (day % 28)).padStart(2, "0")} 10:00:00,2.5,${customer},United Kingdom`;

  it("reads an Online Retail II file whose header names are quoted as a purchase log", async () => {
    const rows = Array.from({ length: 60 }, (_, i) =>
      line(500_000 + i, `2${String(1000 + (i % 9))}`, i * 3, 1 + (i % 8)),
    );
    const ts = await loadTrainingSet({ data: file("quoted-ii.csv", [II, ...rows]) });
    expect(ts.source).toBe("purchases");
    expect(ts.purchases.layout).toBe("online-retail-ii");
    expect(ts.read).toBe(60);
  });

  it("says what is wrong with a file the CSV parser cannot read, not that user_id is missing", async () => {
    const path = file("unclosed.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      "536365,85123A,LANTERN,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
      '536366,71053,"LANTERN,6,2010-12-01 08:28:00,3.39,17850,United Kingdom',
    ]);
    const failed = loadTrainingSet({ data: path });
    await expect(failed).rejects.toThrow(/quote/i);
    await expect(failed).rejects.not.toThrow(/user_id/);
  });

  it("names the layouts it reads and --map for a file of none of them", async () => {
    await expect(loadTrainingSet({ data: file("neither.csv", ["who,what,when", "a,b,1700000000"]) })).rejects.toThrow(
      /^unrecognised columns of \S*neither\.csv \(who, what, when\): expected .*; or name a typed event log's columns with --map/,
    );
  });
});

describe("tuning", () => {
  const mapping = parseMapping("user=customer,item=sku,time=at");
  const days = (n: number) =>
    Array.from(
      { length: 120 },
      (_, i) => `c${i % 20},i${(i * 5) % 17},${1_293_840_000 + Math.floor((i * n * 86400) / 119)}`,
    );

  it("a log no longer than the holdout stops training, naming its span and --holdout-days, unless --no-tune", async () => {
    const ts = await loadTrainingSet({ data: file("short.csv", ["customer,sku,at", ...days(12)]), mapping });
    expect(ts.validation).toBeNull();
    await expect(tuneOnValidation(ts, {}, () => {})).rejects.toThrow(
      /^nothing to tune on: the log spans 12\.0 days \(2011-01-01 to 2011-01-13\), no more than --holdout-days 30: .*--no-tune to train with the defaults/,
    );
    const shorter = await loadTrainingSet({
      data: file("short.csv", ["customer,sku,at", ...days(12)]),
      mapping,
      holdoutDays: 7,
    });
    expect(shorter.validation).not.toBeNull();
    const untuned = await tuneOnValidation(ts, { tune: false }, () => {});
    expect(untuned.metrics).toEqual({});
  });

  it("says on how many validation readers ALS was tuned, and that a few choose its settings mostly by chance", async () => {
    const ts = await loadTrainingSet({
      data: file("few-readers.csv", ["customer,sku,at", ...days(12)]),
      mapping,
      holdoutDays: 7,
    });
    const lines: string[] = [];
    await tuneOnValidation(ts, { holdoutDays: 7 }, (m) => lines.push(m));
    const readers = ts.validation?.relevantAll.size ?? 0;
    expect(readers).toBeGreaterThan(0);
    expect(readers).toBeLessThan(30);
    expect(lines.find((l) => l.startsWith("ALS tuned on validation"))).toMatch(
      new RegExp(
        `^ALS tuned on validation \\(${readers} readers\\): .*mostly by chance: --no-tune keeps alpha 2, regularization 20$`,
      ),
    );
  });

  it("a log of a day or less is not told to pass a shorter --holdout-days: there is none, 1 is the least", async () => {
    const day = await loadTrainingSet({
      data: file("one-day.csv", ["customer,sku,at", ...days(0.5)]),
      mapping,
      holdoutDays: 1,
    });
    await expect(tuneOnValidation(day, { holdoutDays: 1 }, () => {})).rejects.toThrow(
      /^nothing to tune on: the log spans 0\.5 days .*, no more than --holdout-days 1: nothing lies before the validation window\. No --holdout-days \(1 at least\) is shorter: pass --no-tune to train/,
    );
  });
});

describe("validation figures", () => {
  it("publishes no NDCG over no readers: one customer gives no held-out reader and nothing new bought", async () => {
    // one customer buying the same five items every week for four months: the validation window has one reader,
    // none held out to judge the ranker, and nothing bought there that was not bought before
    const rows = Array.from({ length: 17 }, (_, week) =>
      Array.from({ length: 5 }, (_, k) => {
        const day = new Date(Date.UTC(2011, 0, 3 + week * 7, 10)).toISOString().slice(0, 19).replace("T", " ");
        return `${540000 + week},${22720 + k},ITEM ${k},2,${day},1.25,12583,France`;
      }),
    ).flat();
    const ts = await loadTrainingSet({
      data: file("one-customer.csv", [
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        ...rows,
      ]),
    });
    const lines: string[] = [];
    const { metrics } = await tuneOnValidation(ts, {}, (m) => lines.push(m));
    expect(metrics.validation_users).toBe(1);
    expect(metrics.validation_novel_users).toBe(0);
    expect(metrics.validation_holdout_users).toBe(0);
    expect(metrics.validation_holdout_novel_users).toBe(0);
    // before: every one of these was published as 0, an NDCG no reader earned
    for (const name of Object.keys(metrics)) expect(name).not.toMatch(/novel_ndcg|holdout_.*ndcg|holdout_margin/);
    expect(lines).toContain("ranker (all): no held-out validation reader to judge it on: hybrid serves");
  });

  it("calibrates an event log's top score on the readers' purchases (topProbability: that they buy), not their views", async () => {
    // 40 readers who view an item a day for 90 days, each the one after the last; purchases only in the first 60
    const t0 = Date.UTC(2024, 0, 1) / 1000;
    const rows = ["event_id,user_id,type,item_id,ts"];
    for (let d = 0; d < 90; d++)
      for (let u = 0; u < 40; u++) {
        rows.push(`v${d}-${u},u${u},view,i${(u + d) % 60},${t0 + d * 86400 + u * 60}`);
        if (d < 60 && (u + d) % 5 === 0)
          rows.push(`p${d}-${u},u${u},purchase,i${(u + d) % 60},${t0 + d * 86400 + u * 60 + 1}`);
      }
    const viewsOnly = await loadTrainingSet({ data: file("views-late.csv", rows) });
    const lines: string[] = [];
    const tuned = await tuneOnValidation(viewsOnly, {}, (m) => lines.push(m));
    // before: "calibration (als): 40 of 40 readers bought their top item", every view of it taken for a purchase
    expect(tuned.calibration).toEqual({});
    expect(lines).toContain("calibration (als): too few validation purchases of the top item, none published");
    // with purchases in the validation window: the readers counted are those with a vector, the positives purchases
    // (half the readers buy every item in it, the other half none)
    for (let d = 60; d < 90; d++)
      for (let u = 0; u < 40; u++)
        for (const k of u % 4 < 2 ? [0, 30] : [])
          rows.push(`q${d}-${u}-${k},u${u},purchase,i${(u + d + k) % 60},${t0 + d * 86400 + u * 60 + 2}`);
    const bought = await loadTrainingSet({ data: file("bought-late.csv", rows) });
    const { calibration } = await tuneOnValidation(bought, {}, () => {});
    expect(calibration.als?.n).toBe(40);
    expect(calibration.als?.positives).toBe(20);
  });
});

describe("--out", () => {
  it("stops train before it trains when --out names a file, saying so rather than ENOTDIR at the end", async () => {
    const data = file("out-log.csv", [
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
      "536365,85123A,LANTERN,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
      "536366,71053,LANTERN,6,2010-12-02 13:02:00,2.55,17851,United Kingdom",
    ]);
    const lines: string[] = [];
    const log = (m: string) => lines.push(m);
    await expect(trainAndExport({ data, out: data, tune: false, log })).rejects.toThrow(
      /^--out .*out-log\.csv: not a directory \(a file of that name exists\); name a directory, made if missing$/,
    );
    await expect(trainAndExport({ data, out: join(data, "models"), tune: false, log })).rejects.toThrow(
      /^--out .*: not a directory \(a part of the path is a file\)/,
    );
    // nothing was read, let alone trained
    expect(lines).toEqual([]);
  });
});

describe("a retrain into the same --out", () => {
  it("leaves no file of an earlier run beside the new model (pools of a pooled run under --no-pools)", async () => {
    const data = file("retrain-log.csv", [
      "event_id,user_id,type,item_id,ts",
      ...Array.from({ length: 40 }, (_, i) => `e${i},u${i % 8},purchase,sku${i % 5},${1_700_000_000 + i * 86400}`),
    ]);
    const out = join(dir, "retrain-models");
    const train = () => trainAndExport({ data, out, tune: false, pools: false, goldenUsers: 2 });
    const first = await train();
    // what a run that made them leaves, and this one does not make: an earlier run's pools and graphs
    const earlier = ["pools.jsonl", "content.onnx", "neighbours.bin", "segments.onnx", "segments.json"];
    writeFileSync(join(first.dir, "pools.jsonl"), `${JSON.stringify({ userId: "u1", pool: "AAAA" })}\n`);
    for (const f of earlier.slice(1)) writeFileSync(join(first.dir, f), "earlier run");
    const again = await train();
    expect(again.dir).toBe(first.dir);
    expect(earlier.filter((f) => existsSync(join(again.dir, f)))).toEqual([]);
    // what `npm run seed` reads of it: no pool, no graph the new model did not make
    expect((await readPools(again.dir)).size).toBe(0);
    const seeded = (await allEntries(again.dir, false)).entries;
    expect(seeded.filter((e) => e.key.startsWith("features:") && JSON.parse(e.value).pool !== null)).toEqual([]);
    expect(seeded.map((e) => e.key).filter((k) => /content|neighbours|segments/.test(k))).toEqual([]);
    // nothing but the version and the pointer to it is left in --out
    expect(readdirSync(out).sort()).toEqual([again.manifest.version, "latest.json"]);
  });
});

describe("an event log's catalog", () => {
  it("shows no price for an item the log gives none of, rather than 0.00 in the shop's currency", async () => {
    const data = file("events-no-catalog.csv", [
      "event_id,user_id,type,item_id,ts",
      ...Array.from({ length: 30 }, (_, i) => `e${i},u${i % 6},purchase,sku${i % 5},${1_700_000_000 + i * 86400}`),
    ]);
    const out = join(dir, "events-models");
    const lines: string[] = [];
    const res = await trainAndExport({ data, out, tune: false, pools: false, log: (m) => lines.push(m) });
    const catalog = JSON.parse(readFileSync(join(res.dir, "catalog.json"), "utf8")) as { items: CatalogItem[] };
    expect(catalog.items).toHaveLength(5);
    // before: price 0 in GBP, which every card showed as £0.00
    for (const item of catalog.items) expect(shownPrice(item)).toBe("");
    expect(lines).toContain(
      "5 of 5 items have no price (an event log gives none): their cards show none; --catalog products.json gives them",
    );
    // six customers: too few for the engagement models, which train says rather than leave out unsaid
    expect(lines).toContain(
      "segments, send time, propensity, buys within 7 days: none (6 customers with a purchase, fewer than 30)",
    );
  });
});

describe("files as other tools export them", () => {
  const HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country";
  const mapping = parseMapping("user=customer,item=sku,time=at");
  const row = (invoice: number, customer: string, description = "LANTERN", when = "2010-12-01 08:26:00") =>
    `${invoice},85123A,${description},6,${when},2.55,${customer},United Kingdom`;

  it("takes an export's word for no value (nan, NA, NULL, #N/A, None) as a missing customer, not as one customer", async () => {
    const placeholders = ["nan", "NA", "NULL", "#N/A", "None", "-", "n/a"];
    const path = file("placeholders.csv", [
      HEADER,
      row(1, "12000.0"),
      row(2, "12001"),
      ...placeholders.map((p, i) => row(10 + i, p)),
    ]);
    const log = await readPurchaseLog(path);
    expect(log.customerIds).toEqual(["12000", "12001"]);
    expect(log.dropped).toEqual({ "missing customer id": placeholders.length });
    const events = await readInteractionLog(
      file("placeholder-events.csv", ["customer,sku,at", "c1,i1,2011-01-02", "NA,i1,2011-01-02", "c2,nan,2011-01-02"]),
      {
        mapping,
      },
    );
    expect(events.userIds).toEqual(["c1"]);
    expect(events.dropped).toEqual({ "missing user": 1, "missing item": 1 });
  });

  it("reads a decimal-comma export's `13085,0` as customer 13085", async () => {
    const path = file("semicolons.csv", [
      "Invoice;StockCode;Description;Quantity;InvoiceDate;Price;Customer ID;Country",
      "1;85123A;LANTERN;6;2010-12-01 08:26:00;2,55;13085,0;United Kingdom",
    ]);
    expect((await readPurchaseLog(path)).customerIds).toEqual(["13085"]);
    // a thousand-separated id is not a decimal one: `12,000` is not customer 12
    expect(customerId("12,000")).toBe("12,000");
    expect(customerId("17850.0")).toBe("17850");
  });

  it("drops a row with more fields than the header, saying so, and refuses a file of many (an unquoted separator)", async () => {
    const rows = Array.from({ length: 40 }, (_, i) => row(i, `1200${i % 5}`, i < 3 ? "LANTERN, WHITE" : "LANTERN"));
    const path = file("unquoted.csv", [HEADER, ...rows]);
    const log = await readPurchaseLog(path);
    expect(log.dropped).toEqual({ "more fields than the header": 3 });
    expect(log.rows).toBe(37);
    // a row ending in separators the header lacks, its extra fields empty, is read as the header says
    const trailing = await readPurchaseLog(
      file("trailing.csv", [HEADER, `${row(1, "12000")},`, `${row(2, "12001")},,`]),
    );
    expect([trailing.rows, trailing.dropped]).toEqual([2, {}]);
    // a short row is kept as before (a spreadsheet's missing trailing cells)
    const short = await readPurchaseLog(
      file("short.csv", [HEADER, row(1, "12000"), "2,85123A,LANTERN,6,2010-12-01 09:00:00,2.55,12000"]),
    );
    expect(short.rows).toBe(2);
    await expect(loadTrainingSet({ data: path })).rejects.toThrow(
      /^3 of 40 rows of .*unquoted\.csv \(7\.5%\) have more fields than its header, more than 5%: .*double quotes$/,
    );
  });

  it("warns of one customer holding more than a tenth of the purchases (guests under one id), naming them", () => {
    // ten customers of a tenth each: none
    expect(
      crowdedCustomerWarning(
        "f.csv",
        Array.from({ length: 10 }, (_, i) => `${12000 + i}`),
        Array(10).fill(7),
      ),
    ).toBeNull();
    expect(
      crowdedCustomerWarning(
        "f.csv",
        ["0", ...Array.from({ length: 20 }, (_, i) => `${12000 + i}`)],
        [30, ...Array(20).fill(5)],
      ),
    ).toBe(
      "customer \"0\" holds 23.1% of f.csv's purchases: if that id stands for guests or for no customer, blank it in the file (the models would learn one reader of everyone's buying)",
    );
    expect(crowdedCustomerWarning("f.csv", [], [])).toBeNull();
  });

  it("refuses times that all read as before 1973 (Excel's serial days), rather than train on 1970", async () => {
    const rows = Array.from({ length: 20 }, (_, i) => row(i, `1200${i % 5}`, "LANTERN", String(40513.35 + i / 10)));
    await expect(loadTrainingSet({ data: file("serial.csv", [HEADER, ...rows]) })).rejects.toThrow(
      /every time of .*serial\.csv reads as before 1973 \(the latest: 1970-01-01T11:/,
    );
    // a mapped log without a time column (every time 0) is no such count: read as before
    const timeless = await readInteractionLog(file("timeless.csv", ["customer,sku", "c1,i1", "c2,i2"]), {
      mapping: parseMapping("user=customer,item=sku"),
    });
    expect(() => checkReadable("timeless.csv", timeless)).not.toThrow();
  });
});
