/**
 * `npm run import` against a stand-in for the admin events API: the ids it gives purchase lines, and its resume
 * checkpoint (which file it belongs to, how far it got, written whole).
 */
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiEvent, importLog } from "../../scripts/import/importer";

const dir = mkdtempSync(join(tmpdir(), "ot-import-"));
const file = (name: string, lines: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
};
const UCI = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";

/** Every batch posted, in arrival order; each answered 202 with all accepted. */
let posted: ApiEvent[][] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const { events } = JSON.parse(body) as { events: ApiEvent[] };
      posted.push(events);
      res.writeHead(202, { "Content-Type": "application/json" }).end(JSON.stringify({ accepted: events.length }));
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
