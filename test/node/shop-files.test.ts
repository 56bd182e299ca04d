/**
 * A shop's own export as the readers get it: compressed or not whatever its name says, cut short, a directory, or
 * in another encoding. Each is read, or refused with what is wrong (the file, the line) and what to do.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { csvLines, readHeaderLine } from "../../scripts/data/csv-input";
import { parseMapping, readInteractionLog } from "../../scripts/data/interaction-log";
import { readPurchaseLog } from "../../scripts/data/purchase-log";
import { runEvaluation } from "../../scripts/eval/run-evaluation";
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

  it("names a JSON lines event log for what it is, rather than as the CSV parser's Invalid Opening Quote", async () => {
    const jsonl = write(
      "events.jsonl",
      text(['{"uid":"c1","sku":"A1","at":"2026-03-01T10:00:00Z","kind":"purchase"}']),
    );
    const json = /events\.jsonl: it is JSON .*not CSV text: export it as CSV/;
    await expect(
      readInteractionLog(jsonl, { mapping: parseMapping("user=uid,item=sku,time=at,type=kind") }),
    ).rejects.toThrow(json);
    await expect(readPurchaseLog(jsonl)).rejects.toThrow(json);
  });
});

describe("a header as a shop's tools write it", () => {
  const comma = [UCI, ...uciLines(40)];
  const semicolons = (lines: string[]) => lines.map((l) => l.replaceAll(",", ";"));

  it("reads a semicolon-separated export (a European spreadsheet's CSV) as the comma-separated one", async () => {
    const log = await readPurchaseLog(write("semicolons.csv", text(semicolons(comma))));
    expect(log.layout).toBe("online-retail");
    expect(log.rows).toBe(40);
    expect(log.dropped).toEqual({});
    const ts = await loadTrainingSet({ data: write("semicolons-train.csv", text(semicolons(comma))) });
    expect(ts.read).toBe(40);
    // a description holding a comma stays one field
    const quoted = semicolons(comma).map((l, i) =>
      i === 1 ? l.replace("WHITE LANTERN", '"LANTERN, WHITE; TALL"') : l,
    );
    const q = await readPurchaseLog(write("semicolons-quoted.csv", text(quoted)));
    expect(q.descriptions).toContain("LANTERN, WHITE; TALL");
  });

  it("reads a semicolon export's decimal commas (a European spreadsheet's numbers) as the comma file's points", async () => {
    const lines = semicolons(comma).map((l, i) => (i === 0 ? l : l.replace(";2.55;", ";2,55;")));
    const log = await readPurchaseLog(write("decimal-commas.csv", text(lines)));
    expect(log.rows).toBe(40);
    expect(log.dropped).toEqual({});
    const plain = await readPurchaseLog(write("decimal-points.csv", text(comma)));
    expect(Array.from(log.price)).toEqual(Array.from(plain.price));
    expect(log.price[0]).toBeCloseTo(2.55, 10);
    const ts = await loadTrainingSet({ data: write("decimal-commas-train.csv", text(lines)) });
    expect(ts.read).toBe(40);
    // in a comma-separated file a quoted "2,55" is still no number: refused, saying where a decimal comma reads
    const quoted = comma.map((l, i) => (i === 0 ? l : l.replace(",2.55,", ',"2,55",')));
    await expect(loadTrainingSet({ data: write("quoted-commas.csv", text(quoted)) })).rejects.toThrow(
      /40 of 40 rows .* UnitPrice that is not a number.*semicolons or tabs/,
    );
  });

  it("reads a price of 1.200 beside decimal commas as 1200 (a point grouping thousands), not 1.2", async () => {
    const lines = semicolons(comma).map((l, i) =>
      i === 0 ? l : l.replace(";2.55;", i === 5 ? ";1.200;" : i === 6 ? ";1.234,50;" : ";2,55;"),
    );
    const log = await readPurchaseLog(write("thousands-point.csv", text(lines)));
    expect(log.dropped).toEqual({});
    expect(log.price[4]).toBe(1200);
    expect(log.price[5]).toBe(1234.5);
    expect(log.price[0]).toBe(2.55);
    // a file that shows no decimal mark (whole prices) cannot say whether 1.200 is 1.2 or 1200: refused, naming the line
    const whole = semicolons(comma).map((l, i) => (i === 0 ? l : l.replace(";2.55;", i === 5 ? ";1.200;" : ";3;")));
    await expect(loadTrainingSet({ data: write("thousands-unknown.csv", text(whole)) })).rejects.toThrow(
      /thousands-unknown\.csv: line 6's UnitPrice 1\.200 could be 1\.2 or 1200 \(a point grouping thousands\), and no other number in the file shows/,
    );
    // nor one that writes both marks
    const both = lines.map((l, i) => (i === 9 ? l.replace(";2,55;", ";2.55;") : l));
    await expect(readPurchaseLog(write("thousands-both.csv", text(both)))).rejects.toThrow(
      /line 6's UnitPrice 1\.200 .*both decimal commas \(line 2: 2,55\) and decimal points \(line 10: 2\.55\)/,
    );
    // a comma-separated file's point is its decimal mark: 1.200 there is 1.2, and a quoted "1,234.50" 1234.5 (it was
    // no number: the dearest items dropped)
    const plain = comma.map((l, i) =>
      i === 5 ? l.replace(",2.55,", ",1.200,") : i === 6 ? l.replace(",2.55,", ',"1,234.50",') : l,
    );
    const read = await readPurchaseLog(write("thousands-comma-file.csv", text(plain)));
    expect(read.dropped).toEqual({});
    expect([read.price[4], read.price[5]]).toEqual([1.2, 1234.5]);
  });

  it("reads thousands grouped by a space (1 234,50, as French, Nordic and Swiss spreadsheets write them)", async () => {
    // a no-break space (U+00A0) or a narrow one (U+202F, Windows' French locale), or an apostrophe (Swiss)
    const grouped: Record<number, string> = { 5: "1\u00a0234,50", 6: "12\u202f345", 7: "1 000 000,5", 8: "1'234,5" };
    const lines = semicolons(comma).map((l, i) => (i === 0 ? l : l.replace(";2.55;", `;${grouped[i] ?? "2,55"};`)));
    const log = await readPurchaseLog(write("thousands-spaces.csv", text(lines)));
    // before: each was "price not a number", dropped: the dearest items of the shop's file
    expect(log.dropped).toEqual({});
    expect([log.price[4], log.price[5], log.price[6], log.price[7], log.price[0]]).toEqual([
      1234.5, 12345, 1000000.5, 1234.5, 2.55,
    ]);
    // in a comma-separated file too, quoted, beside its decimal point
    const plain = comma.map((l, i) => (i === 5 ? l.replace(",2.55,", ',"1 234.50",') : l));
    const read = await readPurchaseLog(write("thousands-spaces-comma-file.csv", text(plain)));
    expect([read.dropped, read.price[4]]).toEqual([{}, 1234.5]);
    // groups of other than three digits are no number
    const odd = semicolons(comma).map((l, i) => (i === 5 ? l.replace(";2.55;", ";12 34,5;") : l));
    expect((await readPurchaseLog(write("thousands-odd.csv", text(odd)))).dropped).toEqual({ "price not a number": 1 });
  });

  it("reads a tab-separated mapped log's weights with a decimal comma", async () => {
    const path = write(
      "weights.tsv",
      text(["user\titem\tscore\tts", "u1\ti1\t0,5\t1700000000", "u2\ti2\t1,25\t1700000100", "u3\ti3\t2\t1700000200"]),
    );
    const log = await readInteractionLog(path, { mapping: parseMapping("user=user,item=item,weight=score,time=ts") });
    expect(log.dropped).toEqual({});
    expect(Array.from(log.weight)).toEqual([0.5, 1.25, 2]);
  });

  it("reads a tab-separated 1,200 by the decimal mark the rest of the file shows", async () => {
    const mapping = parseMapping("user=user,item=item,weight=score,time=ts");
    const rows = (...scores: string[]) =>
      text(["user\titem\tscore\tts", ...scores.map((w, i) => `u${i}\ti${i}\t${w}\t${1_700_000_000 + i * 100}`)]);
    // 1,2 and 0,125 (which cannot group thousands) write decimal commas: 1,200 is 1.2
    const commas = await readInteractionLog(write("thousands-commas.tsv", rows("1,200", "1,2", "0,125")), { mapping });
    expect(Array.from(commas.weight)).toEqual([Math.fround(1.2), Math.fround(1.2), 0.125]);
    // 2.5 writes decimal points: 1,200 groups thousands
    const points = await readInteractionLog(write("thousands-points.tsv", rows("1,200", "2.5")), { mapping });
    expect(Array.from(points.weight)).toEqual([1200, 2.5]);
    await expect(readInteractionLog(write("thousands-none.tsv", rows("3", "1,200")), { mapping })).rejects.toThrow(
      /thousands-none\.tsv: line 3's score 1,200 could be 1\.2 or 1200 .*no other number in the file shows/,
    );
  });

  it("reads a tab-separated events file", async () => {
    const path = write(
      "events.tsv",
      text([
        "event_id\tuser_id\ttype\titem_id\tts",
        "e1\tu1\tview\ti1\t1700000000",
        "e2\tu2\tpurchase\ti2\t1700000100",
      ]),
    );
    const log = await readInteractionLog(path);
    expect(log.rows).toBe(2);
    expect(log.userIds).toEqual(["u1", "u2"]);
  });

  it("takes the layouts' column names in any case, spacing or underscores", async () => {
    const lower = [UCI.toLowerCase().replace("customerid", "customer_id"), ...uciLines(40)];
    const log = await readPurchaseLog(write("lower.csv", text(lower)));
    expect(log.layout).toBe("online-retail");
    expect(log.rows).toBe(40);
    const ts = await loadTrainingSet({ data: write("lower-train.csv", text(lower)) });
    expect(ts.source).toBe("purchases");
    const events = write(
      "upper-events.csv",
      text(["EVENT_ID,USER_ID,TYPE,ITEM_ID,TS", "e1,u1,view,i1,1700000000", "e2,u2,purchase,i2,1700000100"]),
    );
    expect((await readInteractionLog(events)).rows).toBe(2);
    expect((await readPurchaseLog(events)).rows).toBe(1);
  });

  it("names the column a nearly matching header lacks", async () => {
    const noCountry = [UCI.replace(",Country", ""), ...uciLines(3).map((l) => l.replace(/,United Kingdom$/, ""))];
    await expect(loadTrainingSet({ data: write("no-country.csv", text(noCountry)) })).rejects.toThrow(
      /^unrecognised columns of \S*no-country\.csv \(.*\): the UCI Online Retail layout also needs Country;/,
    );
    const noCustomer = [UCI.replace(",CustomerID", ""), ...uciLines(3)];
    await expect(readPurchaseLog(write("no-customer.csv", text(noCustomer)))).rejects.toThrow(
      /the UCI Online Retail layout also needs CustomerID/,
    );
  });
});

describe("a file with nothing to learn from", () => {
  it("says a file is empty, or holds a header and no rows, instead of naming no columns or 'no purchases'", async () => {
    const empty = write("empty.csv", "");
    await expect(loadTrainingSet({ data: empty })).rejects.toThrow(/empty\.csv is empty/);
    await expect(runEvaluation({ data: empty, progress: false })).rejects.toThrow(/empty\.csv is empty/);
    const headerOnly = write("header-only.csv", text([UCI]));
    await expect(loadTrainingSet({ data: headerOnly })).rejects.toThrow(/header-only\.csv has a header and no rows/);
    await expect(runEvaluation({ data: headerOnly, progress: false })).rejects.toThrow(/has a header and no rows/);
  });

  it("says why every row was dropped, and what to do, when none is left", async () => {
    // a shop's own item codes in the UCI layout: the protocol keeps product codes of five digits only
    const skus = write("skus.csv", text([UCI, ...uciLines(30).map((l) => l.replace(/,(\d{5}),/, ",SKU-$1,"))]));
    const refusal =
      /^none of the 30 rows of .*skus\.csv is a purchase that can be used: 30 not a product stock code .*five digits.*event_id,user_id,type,item_id,ts/;
    await expect(loadTrainingSet({ data: skus })).rejects.toThrow(refusal);
    await expect(runEvaluation({ data: skus, progress: false })).rejects.toThrow(refusal);
    // --map is offered where it is taken: train reads a mapped log, evaluate does not
    await expect(loadTrainingSet({ data: skus })).rejects.toThrow(/--map user=CustomerID/);
    await expect(runEvaluation({ data: skus, progress: false })).rejects.toThrow(/type purchase\)\)$/);
    const guests = write(
      "guests.csv",
      text([UCI, ...uciLines(30).map((l) => l.replace(/,\d+,United Kingdom$/, ",,United Kingdom"))]),
    );
    await expect(loadTrainingSet({ data: guests })).rejects.toThrow(
      /30 missing customer id \(the CustomerID column is empty/,
    );
  });

  it("names a mapped log's event types when none of them has a weight", async () => {
    const path = write(
      "types.csv",
      text([
        "uid,sku,at,kind",
        ...Array.from({ length: 20 }, (_, i) => `u${i % 4},p${i % 5},${1_700_000_000 + i},${i % 2 ? "View" : "Order"}`),
      ]),
    );
    await expect(
      loadTrainingSet({ data: path, mapping: parseMapping("user=uid,item=sku,time=at,type=kind") }),
    ).rejects.toThrow(
      /none of the 20 rows of .*types\.csv is an interaction that can be used: 20 type weight 0 \(types "Order", "View"; weighted: view, cart_add, purchase, email_click\)/,
    );
  });

  it("evaluate stops, as train does, when more than 5% of the times cannot be read", async () => {
    const spelled = uciLines(40).map((l, i) => (i % 4 ? l : l.replace(/2010-12-(\d\d)/, "$1 Dec 2010")));
    await expect(
      runEvaluation({ data: write("spelled.csv", text([UCI, ...spelled])), progress: false }),
    ).rejects.toThrow(
      /^10 of 40 rows .* have a time that could not be read \(the first: "\d\d Dec 2010 \d\d:\d\d(:\d\d)?", line 2\)/,
    );
  });
});

describe("dates as a shop's tools write them", () => {
  const at = (y: number, m: number, d: number, h = 0, min = 0) => Date.UTC(y, m - 1, d, h, min) / 1000;
  const rows = (n: number, date: (i: number) => string) =>
    Array.from(
      { length: n },
      (_, i) => `${536365 + i},${85123 + (i % 7)},LANTERN,2,${date(i)},2.55,${17850 + (i % 5)},UK`,
    );

  it("refuses a week's export that no date settles, naming --date-order, and reads it with one", async () => {
    // 1 to 7 December, every field 12 or less: day first or month first reads as well (it was guessed, silently)
    const dmy = write(
      "week-dmy.csv",
      text([UCI, ...rows(35, (i) => `0${1 + (i % 7)}/12/2010 09:${String(i).padStart(2, "0")}`)]),
    );
    const refusal =
      /week-dmy\.csv: no date says whether its dates are day or month first .*: pass --date-order dmy \(01\/12\/2010 09:00 is 1 December\) or --date-order mdy \(January 12\)/;
    await expect(readPurchaseLog(dmy)).rejects.toThrow(refusal);
    await expect(loadTrainingSet({ data: dmy })).rejects.toThrow(refusal);
    await expect(runEvaluation({ data: dmy, progress: false })).rejects.toThrow(refusal);
    const log = await readPurchaseLog(dmy, { dateOrder: "dmy" });
    expect(log.dropped).toEqual({});
    expect(Math.min(...log.time)).toBe(at(2010, 12, 1, 9, 0));
    expect(Math.max(...log.time)).toBe(at(2010, 12, 7, 9, 34));
    const mdy = write("week-mdy.csv", text([UCI, ...rows(35, (i) => `12/${1 + (i % 7)}/2010 9:00`)]));
    const us = await readPurchaseLog(mdy, { dateOrder: "mdy" });
    expect(Math.min(...us.time)).toBe(at(2010, 12, 1, 9));
    expect(Math.max(...us.time)).toBe(at(2010, 12, 7, 9));
    // a flag the dates contradict is refused, not obeyed
    const settled = write("settled.csv", text([UCI, ...rows(3, (i) => `12/${13 + i}/2010 9:00`)]));
    await expect(readPurchaseLog(settled, { dateOrder: "dmy" })).rejects.toThrow(
      /--date-order dmy, but 12\/13\/2010 9:00 can only be month first/,
    );
  });

  it("reads US times with AM and PM, and dotted day-first dates, deciding the order from the file", async () => {
    const ampm = ["12/01/2010 08:45 AM", "12/13/2010 12:05 PM", "01/02/2011 12:30 AM", "01/02/2011 11:59 pm"];
    const us = await readPurchaseLog(write("ampm.csv", text([UCI, ...rows(4, (i) => ampm[i] as string)])));
    expect(us.dropped).toEqual({});
    expect(Array.from(us.time)).toEqual([
      at(2010, 12, 1, 8, 45),
      at(2010, 12, 13, 12, 5),
      at(2011, 1, 2, 0, 30),
      at(2011, 1, 2, 23, 59),
    ]);
    const dotted = ["01.12.2010 08:26", "13.12.2010 17:45", "02.01.2011 9:00"];
    const de = await readPurchaseLog(write("dotted-dates.csv", text([UCI, ...rows(3, (i) => dotted[i] as string)])));
    expect(Array.from(de.time)).toEqual([at(2010, 12, 1, 8, 26), at(2010, 12, 13, 17, 45), at(2011, 1, 2, 9)]);
    // a two-digit year as POSIX reads one: 99 is 1999, 10 is 2010
    const short = await readPurchaseLog(
      write("two-digit-years.csv", text([UCI, ...rows(2, (i) => ["12/13/99 9:00", "01/02/10 9:00"][i] as string)])),
    );
    expect(Array.from(short.time)).toEqual([at(1999, 12, 13, 9), at(2010, 1, 2, 9)]);
    // an hour a 12-hour clock has not is no time
    const bad = await readPurchaseLog(
      write("ampm-13.csv", text([UCI, ...rows(2, (i) => ["12/13/2010 13:05 PM", "12/13/2010 1:05 PM"][i] as string)])),
    );
    expect(bad.dropped).toEqual({ "bad time": 1 });
    // both orders in one file: refused, naming a date of each
    const mixed = write(
      "mixed-order.csv",
      text([UCI, ...rows(2, (i) => ["13/12/2010 9:00", "12/13/2010 9:00"][i] as string)]),
    );
    await expect(readPurchaseLog(mixed)).rejects.toThrow(
      /both day first \(13\/12\/2010 9:00\) and month first \(12\/13\/2010 9:00\)/,
    );
  });
});

describe("rows as spreadsheets write them", () => {
  it("skips lines of separators or spaces alone (a spreadsheet's rows past its data), as empty lines are", async () => {
    const semicolon = text([UCI, ...uciLines(30), ",,,,,,,", "   ", ",,,,,,,"].map((l) => l.replaceAll(",", ";")));
    const log = await readPurchaseLog(write("trailing-rows.csv", semicolon));
    // before: read 33, dropped 3 "missing customer id", rows no export holds
    expect(log.read).toBe(30);
    expect(log.dropped).toEqual({});
    const events = await readInteractionLog(
      write("trailing-events.csv", text(["user,item,ts", "u1,i1,1700000000", ",,", "u2,i2,1700000100", ",,"])),
      { mapping: parseMapping("user=user,item=item,time=ts") },
    );
    expect([events.read, events.dropped]).toEqual([2, {}]);
  });

  it('reads a quote inside a field as the character it is (12" for inches), and names the file of a broken quote', async () => {
    const lines = [UCI, ...uciLines(30)];
    lines[2] = lines[2]?.replace("WHITE LANTERN", '12" PIZZA PLATE') ?? "";
    const log = await readPurchaseLog(write("inches.csv", text(lines)));
    expect(log.rows).toBe(30);
    expect(log.descriptions).toContain('12" PIZZA PLATE');
    // a field that opens a quote and never closes it is still refused, naming the file and the line
    lines[3] = lines[3]?.replace("WHITE LANTERN", '"WHITE LANTERN') ?? "";
    await expect(readPurchaseLog(write("unclosed-quote.csv", text(lines)))).rejects.toThrow(
      /^.*unclosed-quote\.csv: .*quote/i,
    );
  });

  it("names the line a quote never closed opened on, not the file's last line", async () => {
    const lines = [UCI, ...uciLines(30)];
    lines[3] = lines[3]?.replace("WHITE LANTERN", '"WHITE LANTERN') ?? "";
    // before: "Quote Not Closed: the parsing is finished with an opening quote at line 31"
    await expect(readPurchaseLog(write("unclosed-line.csv", text(lines)))).rejects.toThrow(
      /^.*unclosed-line\.csv: a quote opened on line 4 is never closed: the file ends inside it/,
    );
    // empty lines before it, and lines ended CRLF, are counted as the file's lines
    const spaced = [...lines.slice(0, 3), "", "", ...lines.slice(3)];
    await expect(readPurchaseLog(write("unclosed-spaced.csv", `${spaced.join("\r\n")}\r\n`))).rejects.toThrow(
      /unclosed-spaced\.csv: a quote opened on line 6 is never closed/,
    );
    // the interaction reader (a mapped log) says the same
    const mapped = write(
      "unclosed-mapped.csv",
      text(["user,item,ts", "u1,i1,1700000000", 'u2,"i2,1700000100', "u3,i3,1"]),
    );
    await expect(readInteractionLog(mapped, { mapping: parseMapping("user=user,item=item,time=ts") })).rejects.toThrow(
      /unclosed-mapped\.csv: a quote opened on line 3 is never closed: the file ends inside it/,
    );
  });

  it("refuses a quote left open that swallows the lines up to the next quote, naming where it opened and closed", async () => {
    const lines = [UCI, ...uciLines(30)];
    // an inch mark written as the field's closing quote: the field goes on to the next quote in the file
    lines[3] = lines[3]?.replace("WHITE LANTERN", '"WHITE LANTERN 12""') ?? "";
    lines[20] = lines[20]?.replace("WHITE LANTERN", '"LANTERN, WHITE"') ?? "";
    const path = write("unbalanced.csv", text(lines));
    // before: 13 of the 30 rows read, 1 dropped as "more fields than the header": lines 4 to 21 gone as one row
    const refused =
      /unbalanced\.csv: a quote opened on line 4 closes on line 21, reading the 18 lines from 4 to 21 as one record/;
    await expect(readPurchaseLog(path)).rejects.toThrow(refused);
    await expect(loadTrainingSet({ data: path })).rejects.toThrow(refused);
    await expect(
      readInteractionLog(path, { mapping: parseMapping("user=CustomerID,item=StockCode,time=InvoiceDate") }),
    ).rejects.toThrow(refused);
    // closed by another inch mark in the same column, the record has the header's fields: refused all the same
    // (before: 24 rows read, none dropped, lines 4 to 10 kept as one purchase whose description held them)
    const same = [UCI, ...uciLines(30)];
    same[3] = same[3]?.replace("WHITE LANTERN", '"WHITE LANTERN 12""') ?? "";
    same[9] = same[9]?.replace("WHITE LANTERN", 'PLATE 12"') ?? "";
    await expect(readPurchaseLog(write("unbalanced-same.csv", text(same)))).rejects.toThrow(
      /unbalanced-same\.csv: a quote opened on line 4 closes on line 10, .*\(column Description\)/,
    );
  });

  it("reads a quoted field that holds a line break (a description written on two lines) as one field", async () => {
    const lines = [UCI, ...uciLines(30)];
    lines[3] = lines[3]?.replace("WHITE LANTERN", '"WHITE\nLANTERN"') ?? "";
    lines[5] = lines[5]?.replace("WHITE LANTERN", '"LANTERN, WHITE\r\nLARGE"') ?? "";
    lines[7] = lines[7]?.replace("WHITE LANTERN", '"PLATE 12"" ROUND,\nWHITE"') ?? "";
    const log = await readPurchaseLog(write("multi-line.csv", text(lines)));
    expect([log.rows, log.dropped]).toEqual([30, {}]);
    expect(log.descriptions).toEqual(
      expect.arrayContaining(["WHITE\nLANTERN", "LANTERN, WHITE\r\nLARGE", 'PLATE 12" ROUND,\nWHITE']),
    );
    // in a narrow file, a note over lines with a comma in them is a note, not rows swallowed
    const notes = write(
      "notes.csv",
      text([
        "user_id,item_id,ts,note",
        'u1,p1,1700000000,"gift wrap, red,\nleave at door, thanks"',
        "u2,p2,1700000100,ok",
      ]),
    );
    const noted = await readInteractionLog(notes, { mapping: parseMapping("user=user_id,item=item_id,time=ts") });
    expect(noted.userIds).toEqual(["u1", "u2"]);
    const narrow = write("narrow.csv", text(["id,desc", '1,"a, b\nc"', "2,ok"]));
    const records: Record<string, string>[] = [];
    for await (const { record } of csvLines(narrow)) records.push(record);
    expect(records).toEqual([
      { id: "1", desc: "a, b\nc" },
      { id: "2", desc: "ok" },
    ]);
    // a later problem still names its own line, counted past the fields' line breaks
    lines[12] = lines[12]?.replace("WHITE LANTERN", '"WHITE LANTERN') ?? "";
    await expect(readPurchaseLog(write("multi-line-unclosed.csv", text(lines)))).rejects.toThrow(
      /a quote opened on line 16 is never closed/,
    );
  });

  it("refuses a header that names a column it reads twice, rather than take the last silently", async () => {
    const twice = [`${UCI},Description`, ...uciLines(30).map((l) => `${l},GIFT WRAP`)];
    // before: every item was titled GIFT WRAP
    await expect(readPurchaseLog(write("two-descriptions.csv", text(twice)))).rejects.toThrow(
      /two-descriptions\.csv: the header names column "Description" 2 times \(columns 3, 9\)/,
    );
    const mapped = write("two-skus.csv", text(["uid,sku,at,sku", "u1,a,1700000000,b"]));
    await expect(readInteractionLog(mapped, { mapping: parseMapping("user=uid,item=sku,time=at") })).rejects.toThrow(
      /column "sku" 2 times \(columns 2, 4\)/,
    );
    // a column no reader uses may repeat, and empty names (a separator closing the header) are no column
    const extra = [`${UCI},Note,Note,,`, ...uciLines(30).map((l) => `${l},a,b,,`)];
    expect((await readPurchaseLog(write("two-notes.csv", text(extra)))).rows).toBe(30);
  });

  it("refuses ids a spreadsheet rounded into scientific notation (6.54321E+12), which merge customers", async () => {
    // a shop's 13-digit customer ids, opened in a spreadsheet and saved as CSV: two customers became one id
    const rounded = uciLines(30).map((l, i) =>
      i < 6 ? l.replace(/,\d+,United Kingdom$/, `,${i % 2 ? "6.54321E+12" : "6.54322E+12"},United Kingdom`) : l,
    );
    const refusal = /6 of 30 rows of .*rounded\.csv have a customer id in scientific notation .*rounded/;
    await expect(loadTrainingSet({ data: write("rounded.csv", text([UCI, ...rounded])) })).rejects.toThrow(refusal);
    await expect(
      runEvaluation({ data: write("rounded.csv", text([UCI, ...rounded])), progress: false }),
    ).rejects.toThrow(refusal);
    // a mapped log's item ids (barcodes) the same way: different products read as one
    const items = write(
      "rounded-items.csv",
      text(["uid,sku,at", ...Array.from({ length: 20 }, (_, i) => `u${i % 4},5.01234E+12,${1_700_000_000 + i}`)]),
    );
    await expect(loadTrainingSet({ data: items, mapping: parseMapping("user=uid,item=sku,time=at") })).rejects.toThrow(
      /20 of 20 rows of .*rounded-items\.csv have an item id in scientific notation/,
    );
    // an id that only holds an E is no such number
    const codes = uciLines(30).map((l) => l.replace(/,\d+,United Kingdom$/, ",C3E5,United Kingdom"));
    expect((await readPurchaseLog(write("e-ids.csv", text([UCI, ...codes])))).customerIds).toEqual(["C3E5"]);
  });

  it("reads a layout's columns in any order", async () => {
    const order = [7, 6, 5, 4, 3, 2, 1, 0];
    const reorder = (l: string) => order.map((i) => l.split(",")[i]).join(",");
    const log = await readPurchaseLog(write("reordered.csv", text([UCI, ...uciLines(30)].map(reorder))));
    const plain = await readPurchaseLog(write("in-order.csv", text([UCI, ...uciLines(30)])));
    expect(log.layout).toBe("online-retail");
    expect(Array.from(log.price)).toEqual(Array.from(plain.price));
    expect(Array.from(log.time)).toEqual(Array.from(plain.time));
    expect(log.customerIds).toEqual(plain.customerIds);
  });
});

describe("--map on a file of a known layout", () => {
  it("is used, not ignored: a shop's own item codes in the UCI layout train as a mapped log", async () => {
    const skus = write("mapped-skus.csv", text([UCI, ...uciLines(30).map((l) => l.replace(/,(\d{5}),/, ",SKU-$1,"))]));
    const ts = await loadTrainingSet({
      data: skus,
      mapping: parseMapping("user=CustomerID,item=StockCode,time=InvoiceDate"),
    });
    expect(ts.source).toBe("events");
    expect(ts.full.itemIds).toContain("SKU-85123");
    await expect(loadTrainingSet({ data: skus, mapping: parseMapping("user=CustomerID,item=Sku") })).rejects.toThrow(
      /column "Sku" not in/,
    );
  });
});

describe("an Excel separator hint", () => {
  it("is refused, saying to delete that line, not read as a header of columns 'sep=' and ''", async () => {
    const hinted = write("sep-hint.csv", text(["sep=;", ...[UCI, ...uciLines(30)].map((l) => l.replaceAll(",", ";"))]));
    const refusal = /sep-hint\.csv: its first line, "sep=;", tells Excel the field separator .*delete that line/;
    await expect(loadTrainingSet({ data: hinted })).rejects.toThrow(refusal);
    await expect(runEvaluation({ data: hinted, progress: false })).rejects.toThrow(refusal);
    await expect(
      readInteractionLog(hinted, { mapping: parseMapping("user=CustomerID,item=StockCode,time=InvoiceDate") }),
    ).rejects.toThrow(refusal);
  });
});

describe("line ends", () => {
  it("reads a file whose lines end in CR alone (an old Mac export) without holding it whole to find its first line", async () => {
    const lines = [UCI.replaceAll(",", ";"), ...uciLines(30).map((l) => l.replaceAll(",", ";"))];
    const path = write("cr.csv", `${lines.join("\r")}\r`);
    await expect(readHeaderLine(path)).resolves.toBe(lines[0]);
    expect((await readPurchaseLog(path)).rows).toBe(30);
  });
});
