/** Writes purchase logs in the UCI layouts (Online Retail and Online Retail II) for tests. */
import { writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { Rng } from "../../../scripts/lib/rng";

export interface RetailRow {
  invoice: string;
  code: string;
  description: string;
  quantity: number;
  date: string;
  price: number;
  customer: string;
  country: string;
}

const HEADERS = {
  i: "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
  ii: "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country",
};

/**
 * How a shop's tools may write the same rows: the field separator, numbers as a European spreadsheet writes them
 * (`1.200,55`: a point grouping thousands, a decimal comma) or a US one (`1,200.55`), and dates as `2011-01-03
 * 09:12:00` (the rows' own), US `01/03/2011 09:12:00 AM` or dotted `03.01.2011 09:12`.
 */
export interface RetailDialect {
  delimiter?: "," | ";" | "\t";
  numbers?: "plain" | "de" | "us";
  dates?: "iso" | "us" | "dotted";
}

const quote = (s: string, delimiter: string) =>
  s.includes('"') || s.includes("\n") || s.includes(delimiter) ? `"${s.replace(/"/g, '""')}"` : s;

function dated(iso: string, dates: RetailDialect["dates"]): string {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(iso);
  if (!m || dates === "iso" || !dates) return iso;
  const [, y, mo, d, h, min, sec] = m as unknown as string[];
  if (dates === "dotted") return `${d}.${mo}.${y} ${h}:${min}`;
  const hour = Number(h);
  const twelve = String(hour % 12 === 0 ? 12 : hour % 12).padStart(2, "0");
  return `${mo}/${d}/${y} ${twelve}:${min}:${sec} ${hour < 12 ? "AM" : "PM"}`;
}

export function writeRetailCsv(
  path: string,
  rows: readonly RetailRow[],
  layout: "i" | "ii",
  dialect: RetailDialect = {},
): void {
  const sep = dialect.delimiter ?? ",";
  const num = (n: number) =>
    dialect.numbers === "de" || dialect.numbers === "us"
      ? n.toLocaleString(dialect.numbers === "de" ? "de-DE" : "en-US", { maximumFractionDigits: 20 })
      : String(n);
  const body = rows
    .map((r) =>
      [
        r.invoice,
        r.code,
        r.description,
        num(r.quantity),
        dated(r.date, dialect.dates),
        num(r.price),
        r.customer,
        r.country,
      ]
        .map((f) => quote(f, sep))
        .join(sep),
    )
    .join("\n");
  const text = `${HEADERS[layout].replaceAll(",", sep)}\n${body}\n`;
  writeFileSync(path, path.endsWith(".gz") ? gzipSync(text) : text);
}

/**
 * A shop with planted tastes over ~7 months: customers in groups that buy within their group's
 * products, with repeat purchases; plus noise rows the cleaning must drop.
 */
export function syntheticRetail(seed = 1, customers = 300, productsPerGroup = 12, groups = 6): RetailRow[] {
  const rng = new Rng(seed);
  const rows: RetailRow[] = [];
  const start = Date.UTC(2011, 0, 3, 9);
  let invoice = 500000;
  const words = ["LANTERN", "MUG", "CANDLE", "BAG", "CUSHION", "CLOCK"];
  for (let c = 0; c < customers; c++) {
    const g = c % groups;
    const favourites = Array.from({ length: 5 }, () => g * productsPerGroup + rng.int(productsPerGroup));
    const orders = 2 + rng.int(8);
    const hour = 9 + (c % 7);
    for (let o = 0; o < orders; o++) {
      const day = rng.int(210);
      const date = new Date(start + day * 86400_000 + (hour - 9) * 3600_000 + rng.int(50) * 60_000);
      const stamp = date.toISOString().replace("T", " ").slice(0, 19);
      const inv = String(invoice++);
      const lines = 1 + rng.int(4);
      for (let l = 0; l < lines; l++) {
        const p = rng.next() < 0.7 ? rng.pick(favourites) : g * productsPerGroup + rng.int(productsPerGroup);
        rows.push({
          invoice: inv,
          code: String(20000 + p),
          description: `${["RED", "BLUE", "WHITE"][p % 3]} ${words[g]} ${p}`,
          quantity: 1 + rng.int(12),
          date: stamp,
          price: 1 + (p % 7),
          customer: String(12000 + c),
          country: c % 10 === 0 ? "France" : "United Kingdom",
        });
      }
    }
  }
  // noise the protocol drops
  rows.push({
    invoice: "C999999",
    code: "20001",
    description: "RETURN",
    quantity: -1,
    date: "2011-05-01 10:00:00",
    price: 1,
    customer: "12000",
    country: "United Kingdom",
  });
  rows.push({
    invoice: "999998",
    code: "POST",
    description: "POSTAGE",
    quantity: 1,
    date: "2011-05-01 10:00:00",
    price: 18,
    customer: "12000",
    country: "United Kingdom",
  });
  rows.push({
    invoice: "999997",
    code: "20001",
    description: "GUEST",
    quantity: 1,
    date: "2011-05-01 10:00:00",
    price: 1,
    customer: "",
    country: "United Kingdom",
  });
  return rows;
}
