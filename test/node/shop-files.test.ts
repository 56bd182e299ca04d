/**
 * A shop's own export as the readers get it: compressed or not whatever its name says, cut short, a directory, or
 * in another encoding. Each is read, or refused with what is wrong (the file, the line) and what to do.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { readHeaderLine } from "../../scripts/data/csv-input";
import { readInteractionLog } from "../../scripts/data/interaction-log";
import { readPurchaseLog } from "../../scripts/data/purchase-log";
import { loadTrainingSet } from "../../scripts/train/training-set";

const dir = mkdtempSync(join(tmpdir(), "ot-shop-files-"));
const UCI = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
const uciLines = (n: number) =>
  Array.from(
    { length: n },
    (_, i) =>
      `${536365 + i},${85123 + (i % 7)},WHITE LANTERN,2,2010-12-${String(1 + (i % 28)).padStart(2, "0")} 08:26:00,2.55,${17850 + (i % 9)},United Kingdom`,
  );
const text = (lines: string[]) => `${lines.join("\n")}\n`;
const write = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe("compressed or not", () => {
  it("reads gzip data by its content, whatever the file's name says", async () => {
    const body = text([UCI, ...uciLines(30)]);
    const gzipNamedCsv = await readPurchaseLog(write("orders.csv", gzipSync(body)));
    expect(gzipNamedCsv.rows).toBe(30);
    const plainNamedGz = await readPurchaseLog(write("orders-plain.csv.gz", body));
    expect(plainNamedGz.rows).toBe(30);
  });

  it("says a gzip file is cut short, naming it, rather than 'unexpected end of file'", async () => {
    const whole = gzipSync(text([UCI, ...uciLines(2000)]));
    const path = write("cut.csv.gz", whole.subarray(0, Math.floor(whole.length / 2)));
    await expect(readPurchaseLog(path)).rejects.toThrow(/cut\.csv\.gz.*gzip data stops short/);
    await expect(loadTrainingSet({ data: path })).rejects.toThrow(/gzip data stops short/);
  });

  it("says a directory is one", async () => {
    const path = join(dir, "exports");
    mkdirSync(path);
    await expect(readPurchaseLog(path)).rejects.toThrow(/exports is a directory/);
    await expect(readInteractionLog(path)).rejects.toThrow(/exports is a directory/);
    await expect(readHeaderLine(path)).rejects.toThrow(/exports is a directory/);
  });
});

describe("text that is not UTF-8", () => {
  it("refuses a latin-1 file, naming the line and how to convert it, instead of training on garbled titles", async () => {
    const lines = [UCI, ...uciLines(30)];
    lines[3] = lines[3]?.replace("WHITE LANTERN", "CAFÉ LANTERN") ?? "";
    const path = write("latin1.csv", Buffer.from(text(lines), "latin1"));
    await expect(readPurchaseLog(path)).rejects.toThrow(/latin1\.csv: line 4 is not UTF-8.*iconv -f/);
    // the same file in UTF-8 is read, its accents kept
    const utf8 = await readPurchaseLog(write("utf8.csv", text(lines)));
    expect(utf8.descriptions).toContain("CAFÉ LANTERN");
  });

  it("names UTF-16 (a spreadsheet's 'Unicode text') and a spreadsheet itself for what they are", async () => {
    const utf16 = write("unicode.txt", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text([UCI]), "utf16le")]));
    await expect(readPurchaseLog(utf16)).rejects.toThrow(/unicode\.txt: line 1 is not UTF-8.*UTF-16/);
    const xlsx = write("orders.xlsx", Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0xc8, 0x9a]));
    await expect(readPurchaseLog(xlsx)).rejects.toThrow(/orders\.xlsx: .*spreadsheet.*export it as CSV/);
  });
});
