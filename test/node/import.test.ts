/**
 * `npm run import` against a stand-in for the admin events API: the ids it gives purchase lines, and its resume
 * checkpoint (which file it belongs to, how far it got, written whole).
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readInteractionLog } from "../../scripts/data/interaction-log";
import { type ApiEvent, importLog, NothingSentError } from "../../scripts/import/importer";

const dir = mkdtempSync(join(tmpdir(), "ot-import-"));
const file = (name: string, lines: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
};
const fileSha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const UCI = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";

/** Every batch posted, in arrival order; each answered 202 with all accepted (after `delay`, when set). */
let posted: ApiEvent[][] = [];
let delay: (() => number) | null = null;
/** called as each request arrives */
let onRequest: (() => void) | null = null;
/** the answer to a batch, when not every event is accepted */
let answer: ((events: ApiEvent[]) => { status: number; body: unknown } | null) | null = null;
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      onRequest?.();
      const { events } = JSON.parse(body) as { events: ApiEvent[] };
      posted.push(events);
      const reply = answer?.(events) ?? { status: 202, body: { accepted: events.length } };
      setTimeout(
        () => res.writeHead(reply.status, { "Content-Type": "application/json" }).end(JSON.stringify(reply.body)),
        delay?.() ?? 0,
      );
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

describe("import ids", () => {
  it("numbers later lines of the same invoice and item, keeping the first line's id as before", async () => {
    posted = [];
    const path = file("repeat-lines.csv", [
      UCI,
      "536365,85123A,LANTERN,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
      "536365,71053,MUG,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",
      "536365,85123A,LANTERN,2,2010-12-01 08:26:00,2.55,17850,United Kingdom",
      "536366,85123A,LANTERN,1,2010-12-01 08:28:00,2.55,17850,United Kingdom",
      "536365,85123A,LANTERN,4,2010-12-01 08:26:00,2.45,17850,United Kingdom",
    ]);
    const summary = await importLog({ data: path, url, adminKey: "k", checkpoint: join(dir, "ids.checkpoint.json") });
    expect(summary.events).toBe(5);
    const events = posted.flat();
    const quantity = (id: string) => events.find((e) => e.id === id)?.properties?.quantity;
    expect(new Set(events.map((e) => e.id)).size).toBe(5);
    expect(quantity("536365:85123A")).toBe(6);
    expect(quantity("536365:85123A:2")).toBe(2);
    expect(quantity("536365:85123A:3")).toBe(4);
    expect(quantity("536365:71053")).toBe(6);
    expect(quantity("536366:85123A")).toBe(1);
  });
});

describe("import answers", () => {
  it("counts a batch none of whose events is valid (400 INVALID_EVENTS) as rejections, and goes on", async () => {
    posted = [];
    // the API's answer to a batch of only bad events, as worker/events/event-batch.ts gives it
    answer = (events) =>
      events.every((e) => e.user === "u3")
        ? {
            status: 400,
            body: {
              error: { code: "INVALID_EVENTS", message: "no event of the batch is valid" },
              accepted: 0,
              rejected: events.map((_, index) => ({ index, code: "INVALID_EVENT" })),
            },
          }
        : null;
    try {
      const path = file("one-bad.csv", [
        "event_id,user_id,type,item_id,ts",
        ...Array.from({ length: 5 }, (_, i) => `b${i},u${i},purchase,i${i},${1_700_000_000 + i}`),
      ]);
      const summary = await importLog({
        data: path,
        url,
        adminKey: "k",
        batchSize: 1,
        concurrency: 1,
        checkpoint: join(dir, "one-bad.checkpoint.json"),
      });
      expect(summary.accepted).toBe(4);
      expect(summary.rejected).toEqual({ INVALID_EVENT: 1 });
      expect(posted).toHaveLength(5);
    } finally {
      answer = null;
    }
  });
});

describe("import of a batch the Worker never answers", () => {
  it("sends it again after the request timeout, and completes", async () => {
    posted = [];
    // the first request hangs far past the timeout (a stalled connection); the rest are answered at once
    let requests = 0;
    delay = () => (++requests === 1 ? 30_000 : 0);
    try {
      const path = file("stall.csv", [
        "event_id,user_id,type,item_id,ts",
        ...Array.from({ length: 3 }, (_, i) => `s${i},u${i},purchase,i${i},${1_700_000_000 + i}`),
      ]);
      const summary = await importLog({
        data: path,
        url,
        adminKey: "k",
        batchSize: 1,
        concurrency: 1,
        requestTimeoutMs: 300,
        checkpoint: join(dir, "stall.checkpoint.json"),
      });
      expect(summary.accepted).toBe(3);
      // the stalled batch was posted twice, with the same event ids (the consumer takes it once)
      expect(posted.map((batch) => batch.map((e) => e.id))).toEqual([["s0"], ["s0"], ["s1"], ["s2"]]);
    } finally {
      delay = null;
    }
  }, 10_000);
});

describe("import of an events CSV", () => {
  it("reads one saved with a byte-order mark and CRLF line ends (a spreadsheet's UTF-8 CSV) as any other", async () => {
    posted = [];
    const path = join(dir, "bom-events.csv");
    writeFileSync(
      path,
      `\uFEFF${["event_id,user_id,type,item_id,ts", "e1,u1,purchase,i1,1700000000", "e2,u2,view,i2,1700000100"].join("\r\n")}\r\n`,
    );
    const summary = await importLog({ data: path, url, adminKey: "k", checkpoint: join(dir, "bom.checkpoint.json") });
    expect(summary.dropped_by_loader).toEqual({});
    expect(summary.events).toBe(2);
    expect(posted.flat().map((e) => e.id)).toEqual(["e1", "e2"]);
  });
});

describe("import of an events CSV as a shop's tools write it", () => {
  it("reads one separated by semicolons, its header in capitals, every event and not only its purchases", async () => {
    posted = [];
    const path = file("semicolon-events.csv", [
      "EVENT_ID;USER_ID;TYPE;ITEM_ID;TS",
      "e1;u1;view;i1;1700000000",
      "e2;u1;purchase;i1;1700000100",
      "e3;u2;cart_add;i2;1700000200",
    ]);
    const summary = await importLog({ data: path, url, adminKey: "k", checkpoint: join(dir, "semi.checkpoint.json") });
    expect(summary.layout).toBe("opentime-events");
    expect(summary.dropped_by_loader).toEqual({});
    expect(
      posted
        .flat()
        .map((e) => `${e.id}:${e.type}`)
        .sort(),
    ).toEqual(["e1:view", "e2:purchase", "e3:cart_add"]);
  });
});

describe("import of an events CSV keys readers as train does", () => {
  it("trims every cell, reads a customer id a spreadsheet wrote as a float as its whole number, and a padded placeholder as none", async () => {
    posted = [];
    const path = file("padded-events.csv", [
      "event_id,user_id,type,item_id,ts",
      "e1,17850.0,purchase,i1,1700000000",
      "e2, 12345 ,purchase ,i2 ,1700000100",
      "e3, nan ,view,i3,1700000200",
      "e4,17850,view,i1,1700000300123456",
    ]);
    const summary = await importLog({
      data: path,
      url,
      adminKey: "k",
      checkpoint: join(dir, "padded.checkpoint.json"),
    });
    expect(summary.users).toBe(2);
    expect(summary.dropped_by_loader).toEqual({ "missing field": 1 });
    expect(
      posted
        .flat()
        .map((e) => [e.id, e.user, e.type, e.item, e.ts])
        .sort(),
    ).toEqual([
      ["e1", "17850", "purchase", "i1", 1700000000],
      ["e2", "12345", "purchase", "i2", 1700000100],
      ["e4", "17850", "view", "i1", 1700000300],
    ]);
    // train's readers name the same two customers
    expect([...(await readInteractionLog(path)).userIds].sort()).toEqual(["12345", "17850"]);
  });
});

describe("import of an events CSV as other tools export it", () => {
  it("reads as train reads it: a placeholder user is none, a placeholder item no item, a row of more fields dropped, a trailing separator read", async () => {
    posted = [];
    const path = file("exported-events.csv", [
      "event_id,user_id,type,item_id,ts",
      "e1,u1,view,nan,1700000000",
      "e2,NA,purchase,i1,1700000100",
      "e3,u2,view,NA,1700000200",
      "e4,u2,view,i2,1700000300,,",
      "e5,u3,view,LAMP, WHITE,1700000400",
      // enough other rows that one of more fields is under the 5% that refuses the file
      ...Array.from({ length: 20 }, (_, i) => `f${i},u4,view,i3,${1700000500 + i}`),
    ]);
    const summary = await importLog({
      data: path,
      url,
      adminKey: "k",
      checkpoint: join(dir, "exported.checkpoint.json"),
    });
    expect(summary.dropped_by_loader).toEqual({ "missing field": 1, "more fields than the header": 1 });
    // `NA` may be a shop's item code (Namibia's), never a placeholder for one
    expect(
      posted
        .flat()
        .map((e) => `${e.id}:${e.user}:${e.item ?? "-"}`)
        .slice(0, 3),
    ).toEqual(["e1:u1:-", "e3:u2:NA", "e4:u2:i2"]);
    expect(summary.events).toBe(23);
  });
});

describe("import of a file it cannot use", () => {
  it("refuses, sending nothing, a file with no rows, none usable, unreadable times, or email addresses for ids", async () => {
    const lines = (n: number, customer: (i: number) => string, date = (i: number) => `2011-01-0${1 + (i % 9)} 10:00`) =>
      Array.from(
        { length: n },
        (_, i) => `${540000 + i},${21000 + (i % 5)},LANTERN,1,${date(i)},2.5,${customer(i)},UK`,
      );
    const cases: [string, string[], RegExp][] = [
      ["header-only.csv", [UCI], /has a header and no rows/],
      ["guests.csv", [UCI, ...lines(10, () => "")], /none of the 10 rows .* 10 missing customer id/],
      [
        "spelled.csv",
        [
          UCI,
          ...lines(
            10,
            (i) => `${i}`,
            (i) => `${1 + i} Jan 2011`,
          ),
        ],
        /10 of 10 rows .* time that could not be read \(the first: "1 Jan 2011", line 2\)/,
      ],
      [
        "dotted.csv",
        [
          UCI,
          ...lines(
            10,
            (i) => `${i}`,
            (i) => `0${1 + (i % 9)}.01.2011`,
          ),
        ],
        /dotted\.csv: no date says whether its dates are day or month first .*--date-order dmy/,
      ],
      [
        "emails.csv",
        [UCI, ...lines(10, (i) => `c${i}@shop.example`)],
        /10 user id\(s\) in column "CustomerID" .* look like email addresses/,
      ],
      ["sep-hint.csv", ["sep=,", UCI, ...lines(10, (i) => `${i}`)], /its first line, "sep=,", tells Excel/],
      [
        // a spreadsheet's rounding of long customer numbers: customers merged, in either kind of file
        "rounded.csv",
        [UCI, ...lines(10, (i) => (i < 2 ? "6.54321E+12" : `${i}`))],
        /2 of 10 rows .* customer id in scientific notation/,
      ],
      [
        "events-rounded.csv",
        ["event_id,user_id,type,item_id,ts", "e1,u1,view,5.01234E+12,1700000000", "e2,u1,view,i2,1700000001"],
        /1 of 2 rows .* item id in scientific notation/,
      ],
      [
        // order numbers as event ids: the Worker would keep one event of each rounded id, the rest as duplicates
        "events-rounded-ids.csv",
        ["event_id,user_id,type,item_id,ts", "1.23457E+12,u1,view,i1,1700000000", "1.23457E+12,u2,view,i2,1700000001"],
        /2 of 2 rows .* event id in scientific notation/,
      ],
      [
        "events-emails.csv",
        ["event_id,user_id,type,item_id,ts", "e1,a@b.example,view,i1,1700000000"],
        /column "user_id" .* email/,
      ],
      [
        // an app keying its events by the customer's address: refused as the events API refuses them
        "event-ids-emails.csv",
        [
          "event_id,user_id,type,item_id,ts",
          "a@b.example:1700000000,u1,view,i1,1700000000",
          "e2,u1,view,i2,1700000001",
        ],
        /1 event id\(s\) in column "event_id" .* look like email addresses/,
      ],
      [
        "invoice-emails.csv",
        [UCI, ...lines(10, (i) => `${i}`).map((l, i) => (i === 0 ? l.replace(/^540000/, "a@b.example") : l))],
        /1 event id\(s\) in column "InvoiceNo" .* look like email addresses/,
      ],
    ];
    for (const [name, content, refusal] of cases) {
      posted = [];
      const failed = importLog({
        data: file(name, content),
        url,
        adminKey: "k",
        checkpoint: join(dir, `${name}.json`),
      });
      await expect(failed, name).rejects.toThrow(refusal);
      await expect(failed).rejects.toBeInstanceOf(NothingSentError);
      expect(posted, name).toEqual([]);
    }
  });
});

describe("import of an events CSV's times", () => {
  it("reads dates in the ts column as train does, instead of posting null for them", async () => {
    posted = [];
    const path = file("dated-events.csv", [
      "event_id,user_id,type,item_id,ts",
      "d1,u1,purchase,i1,2023-11-14 22:13:20",
      "d2,u1,view,i2,1700000100",
      "d3,u2,view,i2,14/11/2023 22:15",
      "d4,u2,view,i3,not a time",
      // one unreadable time in 24 is counted and dropped; more than 5% stops the import, as it stops train
      ...Array.from({ length: 20 }, (_, i) => `x${i},u9,view,i1,${1_700_000_200 + i}`),
    ]);
    const summary = await importLog({ data: path, url, adminKey: "k", checkpoint: join(dir, "dated.checkpoint.json") });
    expect(summary.dropped_by_loader).toEqual({ "bad time": 1 });
    expect(
      posted
        .flat()
        .filter((e) => e.id.startsWith("d"))
        .map((e) => [e.id, e.ts]),
    ).toEqual([
      ["d1", 1700000000],
      ["d2", 1700000100],
      ["d3", 1700000100],
    ]);
  });
});

describe("import checkpoint", () => {
  /** customers u0..u9, one purchase each: sorted by user, ten batches of one */
  const events = (tag: string) => [
    "event_id,user_id,type,item_id,ts",
    ...Array.from({ length: 10 }, (_, i) => `${tag}${i},u${i},purchase,i${i},${1_700_000_000 + i}`),
  ];

  it("resumes a run of the same file where it stopped, and deletes the checkpoint once done", async () => {
    posted = [];
    const path = file("same.csv", events("e"));
    const checkpoint = join(dir, "same.checkpoint.json");
    const sha256 = fileSha256(path);
    writeFileSync(checkpoint, JSON.stringify({ data: path, sha256, batchSize: 1, batches: 10, done: 4 }));
    const summary = await importLog({ data: path, url, adminKey: "k", batchSize: 1, concurrency: 1, checkpoint });
    expect(summary.resumed_from_batch).toBe(4);
    expect(posted.flat().map((e) => e.user)).toEqual(["u4", "u5", "u6", "u7", "u8", "u9"]);
    expect(existsSync(checkpoint)).toBe(false);
  });

  it("starts again, saying so, when the file under that name changed or the batching did", async () => {
    const path = file("changed.csv", events("old"));
    const checkpoint = join(dir, "changed.checkpoint.json");
    const old = { data: path, sha256: fileSha256(path), batchSize: 1, batches: 10, done: 6 };
    file("changed.csv", events("new"));
    for (const cp of [old, { ...old, sha256: fileSha256(path), batches: 9 }, "{ half a checkp"]) {
      posted = [];
      writeFileSync(checkpoint, typeof cp === "string" ? cp : JSON.stringify(cp));
      const lines: string[] = [];
      const summary = await importLog({
        data: path,
        url,
        adminKey: "k",
        batchSize: 1,
        checkpoint,
        log: (m) => lines.push(m),
      });
      expect(summary.resumed_from_batch).toBe(0);
      expect(posted.flat().map((e) => e.id)).toHaveLength(10);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^checkpoint .*changed\.checkpoint\.json (is for other content under that name|is for 9 batches of 1, not 10 of 1|is not JSON): starting again from the first batch$/,
      );
    }
  });

  it("writes the checkpoint whole and never backwards while batches finish out of order", async () => {
    posted = [];
    const path = file("many.csv", [
      "event_id,user_id,type,item_id,ts",
      ...Array.from(
        { length: 120 },
        (_, i) => `e${i},u${String(i).padStart(3, "0")},purchase,i${i},${1_700_000_000 + i}`,
      ),
    ]);
    const checkpoint = join(dir, "many.checkpoint.json");
    const seen: number[] = [];
    // what a run interrupted now would resume from: NaN for a checkpoint that is not whole JSON
    onRequest = () => {
      if (!existsSync(checkpoint)) return;
      try {
        seen.push((JSON.parse(readFileSync(checkpoint, "utf8")) as { done: number }).done);
      } catch {
        seen.push(Number.NaN);
      }
    };
    let n = 0;
    // later batches answered sooner: they finish before earlier ones
    delay = () => (n++ % 4 === 0 ? 12 : 1);
    try {
      await importLog({ data: path, url, adminKey: "k", batchSize: 1, concurrency: 8, checkpoint });
    } finally {
      onRequest = null;
      delay = null;
    }
    expect(posted.flat()).toHaveLength(120);
    expect(seen.length).toBeGreaterThan(50);
    expect(seen.filter((d) => Number.isNaN(d))).toEqual([]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);
  });
});
