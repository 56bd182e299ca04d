/**
 * The temporal-30d protocol: cleaning and layout detection, the split on a log with known answers, the
 * reference figures on the real UCI file (when present), and layout-independence of the whole run.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectLayout, type PurchaseLog, readPurchaseLog } from "../../scripts/data/purchase-log";
import { rowData, rowIndices } from "../../scripts/data/sparse";
import { temporalSplit, trainData } from "../../scripts/data/temporal-split";
import { BASELINES } from "../../scripts/eval/origins";
import { runEvaluation } from "../../scripts/eval/run-evaluation";
import { writeReport } from "../../scripts/eval/write-report";
import { evaluateModel, ndcgPerUser, type ProtocolMetrics } from "../../scripts/ranking/evaluate-recommender";
import { ItemKnn } from "../../scripts/train/item-knn";
import { trainAndExport } from "../../scripts/train/pipeline";
import { Popularity } from "../../scripts/train/popularity";
import { RepeatPurchases } from "../../scripts/train/repeat";
import { RP3BETA_GRID } from "../../scripts/train/rp3beta";
import { type RetailDialect, type RetailRow, syntheticRetail, writeRetailCsv } from "./support/retail-csv";

const dir = mkdtempSync(join(tmpdir(), "ot-protocol-"));
const UCI = "../shared/data/online_retail.csv.gz";

const row = (invoice: string, code: string, customer: string, date: string, quantity = 1, price = 1): RetailRow => ({
  invoice,
  code,
  description: `ITEM ${code}`,
  quantity,
  date,
  price,
  customer,
  country: "United Kingdom",
});

describe("purchase log", () => {
  it("detects both UCI layouts and the events format, and names what it expected otherwise", () => {
    expect(
      detectLayout([
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
      ]),
    ).toBe("online-retail");
    expect(
      detectLayout([
        "Invoice",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "Price",
        "Customer ID",
        "Country",
      ]),
    ).toBe("online-retail-ii");
    expect(detectLayout(["event_id", "user_id", "type", "item_id", "ts", "campaign"])).toBe("opentime-events");
    expect(() => detectLayout(["a", "b"])).toThrow(/expected the UCI Online Retail layout/);
  });

  it("cleans as the protocol says and counts each drop by reason", async () => {
    const path = join(dir, "clean.csv");
    writeRetailCsv(
      path,
      [
        row("536365", "85123A", "17850", "2010-12-01 08:26:00", 6, 2.55),
        row("C536379", "85123A", "17850", "2010-12-01 09:41:00", -1, 2.55),
        row("536366", "POST", "17850", "2010-12-01 08:28:00", 1, 18),
        row("536367", "22752", "", "2010-12-01 08:34:00", 2, 7.65),
        row("536368", "22960", "13047", "2010-12-01 08:34:00", 0, 4.25),
        row("536369", "22913", "13047", "2010-12-01 08:35:00", 3, 0),
        row("536370", "21724", "12583", "2010-12-01 08:45:00", 12, 0.85),
      ],
      "i",
    );
    const log = await readPurchaseLog(path);
    expect(log.rows).toBe(2);
    expect(log.read).toBe(7);
    expect(log.dropped).toEqual({
      "cancellation invoice": 1,
      "not a product stock code": 1,
      "missing customer id": 1,
      "quantity not positive": 1,
      "price not positive": 1,
    });
    expect(log.itemDescriptions).toEqual(["ITEM 85123A", "ITEM 21724"]);
  });
});

describe("temporal split", () => {
  // A: 3 invoices before T (two with item 20001), B: one; test window: A buys 20001 (repeat) + 20003 (novel), C new user
  const rows = [
    row("1", "20001", "A", "2011-01-01 10:00:00"),
    row("1", "20002", "A", "2011-01-01 10:00:00"),
    row("2", "20001", "A", "2011-01-10 10:00:00"),
    row("2", "20001", "A", "2011-01-10 10:00:00"),
    row("3", "20003", "B", "2011-01-12 10:00:00"),
    row("4", "20002", "B", "2011-01-20 10:00:00"),
    row("5", "20001", "A", "2011-03-01 10:00:00"),
    row("5", "20003", "A", "2011-03-01 10:00:00"),
    row("6", "20009", "A", "2011-03-02 10:00:00"),
    row("7", "20001", "C", "2011-03-05 12:00:00"),
  ];

  it("cuts 30 days before the last purchase, with candidates in popularity order and distinct-invoice values", async () => {
    const path = join(dir, "split.csv");
    writeRetailCsv(path, rows, "ii");
    const log = await readPurchaseLog(path);
    const s = temporalSplit(log);
    expect(new Date(s.cutoff * 1000).toISOString()).toBe("2011-02-03T12:00:00.000Z");
    expect(s.trainRows).toBe(6);
    // buyers: 20001 {A}, 20002 {A,B}, 20003 {B} -> 20002 first, then 20001 < 20003 by StockCode
    expect(s.itemIds).toEqual(["20002", "20001", "20003"]);
    expect(s.userIds).toEqual(["A", "B"]);
    const a = s.userIds.indexOf("A");
    expect(Array.from(rowIndices(s.train, a))).toEqual([0, 1]);
    expect(Array.from(rowData(s.train, a))).toEqual([1, 2]); // 20001 on two distinct invoices
    // A bought 20001 and 20003 in test (20009 is not a candidate); C has no train history
    expect([...s.testAll.keys()]).toEqual([a]);
    expect([...(s.testAll.get(a) ?? [])].sort()).toEqual([1, 2]);
    expect([...(s.testNovel.get(a) ?? [])]).toEqual([2]);
  });

  it("describes each item as the rows before the cutoff do: a name first written later is not known there", async () => {
    const renamed = [
      ...rows,
      // after T, 20001 is sold six times under a new name, which wins over the whole log
      ...["8", "9", "10", "11", "12", "13"].map((inv) => ({
        ...row(inv, "20001", "B", "2011-03-03 10:00:00"),
        description: "NEW NAME",
      })),
    ];
    const path = join(dir, "renamed.csv");
    writeRetailCsv(path, renamed, "i");
    const log = await readPurchaseLog(path);
    expect(log.itemDescriptions[log.itemIds.indexOf("20001")]).toBe("NEW NAME");
    const s = temporalSplit(log);
    const text = trainData(s, log).itemText ?? [];
    expect(text[s.itemIds.indexOf("20001")]).toBe("ITEM 20001");
    expect(text[s.itemIds.indexOf("20002")]).toBe("ITEM 20002");
  });
});

describe("reference figures on the UCI Online Retail file", () => {
  it.skipIf(!existsSync(UCI))("split counts and baselines reproduce the independent implementation", async () => {
    const log = await readPurchaseLog(UCI);
    const s = temporalSplit(log);
    expect(new Date(s.cutoff * 1000).toISOString()).toBe("2011-11-09T12:50:00.000Z");
    expect(s.trainRows).toBe(331_009);
    expect(s.itemIds.length).toBe(3_619);
    expect(s.testAll.size).toBe(1_378);
    expect(s.testNovel.size).toBe(1_270);
    const data = trainData(s, log);
    const ndcg = (m: Popularity | RepeatPurchases | ItemKnn) => {
      m.fit(data);
      return evaluateModel(s, m, ["all", "novel"]);
    };
    const pop = ndcg(new Popularity());
    expect(pop.all?.ndcg_at_10).toBeCloseTo(0.0814, 3);
    expect(pop.novel?.ndcg_at_10).toBeCloseTo(0.0338, 3);
    expect(ndcg(new RepeatPurchases()).all?.ndcg_at_10).toBeCloseTo(0.3412, 3);
    const knn = ndcg(new ItemKnn());
    expect(knn.all?.ndcg_at_10).toBeCloseTo(0.1788, 3);
    expect(knn.novel?.ndcg_at_10).toBeCloseTo(0.0691, 3);
  });
});

describe("the whole evaluation", () => {
  it("names its protocol and its propensity horizon by the test window it ran (--test-days)", async () => {
    writeRetailCsv(join(dir, "shop-14.csv"), syntheticRetail(), "i");
    const run = await runEvaluation({ data: join(dir, "shop-14.csv"), testDays: 14, progress: false });
    expect(run.document.protocol).toBe("temporal-14d");
    expect(run.document.split.test_days).toBe(14);
    await writeReport(join(dir, "report-14"), run.document, run.log, run.engagement, run.test.cutoff);
    const report = readFileSync(join(dir, "report-14/report.md"), "utf8");
    expect(report).toMatch(/^# opentime evaluation: temporal-14d\n/);
    expect(report).toContain("## Purchase propensity (next 14 days)");
  });

  it("refuses email addresses as customer ids, as train does, before any warning could name one", async () => {
    const rows = syntheticRetail().map((r) => (r.customer ? { ...r, customer: `c${r.customer}@shop.example` } : r));
    writeRetailCsv(join(dir, "shop-emails.csv"), rows, "i");
    await expect(runEvaluation({ data: join(dir, "shop-emails.csv"), progress: false })).rejects.toThrow(
      /user id\(s\) in column "CustomerID" .* look like email addresses/,
    );
  });

  it("gives the same document for the same data in either UCI layout, plain or gzip", async () => {
    const rows = syntheticRetail();
    writeRetailCsv(join(dir, "shop-i.csv"), rows, "i");
    writeRetailCsv(join(dir, "shop-ii.csv.gz"), rows, "ii");
    const a = (await runEvaluation({ data: join(dir, "shop-i.csv"), progress: false })).document;
    const b = (await runEvaluation({ data: join(dir, "shop-ii.csv.gz"), progress: false })).document;
    expect(a.data.layout).toBe("online-retail");
    expect(b.data.layout).toBe("online-retail-ii");
    expect(b.recommenders).toEqual(a.recommenders);
    expect(b.split).toEqual(a.split);
    expect(a.data.dropped).toEqual({
      "cancellation invoice": 1,
      "not a product stock code": 1,
      "missing customer id": 1,
    });
    // the shape the issue specifies
    expect(a.protocol).toBe("temporal-30d");
    for (const name of ["popularity", "repeat", "item_knn", "ease", "rp3beta", "own_then_ease", "own_then_als"]) {
      expect(a.recommenders[name]?.all?.ndcg_at_10).toBeTypeOf("number");
    }
    for (const name of ["als", "content", "hybrid", "ranker"]) {
      expect(a.recommenders[name]?.all?.ndcg_at_10).toBeTypeOf("number");
    }
    // RP3beta serves the setting validation scored best, of every setting in its grid
    const rp3 = a.tuning.rp3beta;
    expect(rp3.map((t) => t.options)).toEqual(RP3BETA_GRID);
    const best = Math.max(...rp3.map((t) => t.validation_ndcg_at_10));
    expect(rp3.find((t) => t.validation_ndcg_at_10 === best)?.options).toEqual(a.tuning.rp3beta_chosen);
    expect(a.recommenders.repeat?.novel).toBeNull();
    expect(Object.keys(a.quantized).sort()).toEqual(["als", "content", "hybrid", "ranker"]);
    // the served model per mode is whichever chooseServed picked on held-out validation readers
    const served = a.tuning.ranker.chosen;
    expect(a.recommenders.served?.all).toEqual(a.recommenders[served.all]?.all);
    expect(a.recommenders.served?.novel).toEqual(a.recommenders[served.novel]?.novel);
    expect(a.origins).toBeNull();
    expect(a.propensity.auc).toBeTypeOf("number");
    expect(a.segments.k).toBeGreaterThanOrEqual(3);
    expect(a.send_time.top3_hit_rate).toBeGreaterThan(a.send_time.baseline_top3_hit_rate);
    // planted tastes: the learned models beat popularity
    expect(a.recommenders.hybrid?.all?.ndcg_at_10).toBeGreaterThan(
      2 * (a.recommenders.popularity?.all?.ndcg_at_10 as number),
    );
  });
});

describe("the same data written another way", () => {
  it("gives the same purchases, and train the same model version, whatever the layout, separator, decimal mark or date format", async () => {
    // prices with cents and one in the thousands (written 1.200 by a European spreadsheet, 1,200 by a US one)
    const rows = syntheticRetail().map((r) => ({ ...r, price: r.code === "20001" ? 1200 : r.price + 0.55 }));
    const files: [string, "i" | "ii", RetailDialect][] = [
      ["written-plain.csv", "i", {}],
      ["written-ii.csv.gz", "ii", {}],
      ["written-eu.csv", "i", { delimiter: ";", numbers: "de", dates: "dotted" }],
      ["written-us.tsv", "ii", { delimiter: "\t", numbers: "us", dates: "us" }],
      ["written-us.csv", "i", { dates: "us" }],
    ];
    for (const [name, layout, dialect] of files) writeRetailCsv(join(dir, name), rows, layout, dialect);
    const [plain, ...others] = await Promise.all(files.map(([name]) => readPurchaseLog(join(dir, name))));
    const columns = (l: PurchaseLog) => ({
      ...l,
      layout: null,
      time: Array.from(l.time),
      price: Array.from(l.price),
      quantity: Array.from(l.quantity),
    });
    expect(plain?.price).toContain(1200);
    for (const other of others) expect(columns(other as PurchaseLog)).toEqual(columns(plain as PurchaseLog));
    const version = async (name: string) =>
      (
        await trainAndExport({
          data: join(dir, name),
          out: join(dir, `models-${name}`),
          als: { factors: 8, iterations: 4 },
          tune: false,
          pools: false,
          goldenUsers: 2,
        })
      ).manifest.version;
    const first = await version("written-plain.csv");
    for (const [name] of files.slice(2)) expect(await version(name), name).toBe(first);
  });
});

describe("several origins", () => {
  it("runs the protocol at T, T-30d and T-60d on the Online Retail II layout, each tuned on its own validation", async () => {
    writeRetailCsv(join(dir, "shop-ii-origins.csv"), syntheticRetail(3), "ii");
    const run = await runEvaluation({ data: join(dir, "shop-ii-origins.csv"), origins: 3, progress: false });
    const doc = run.document;
    const o = doc.origins as NonNullable<typeof doc.origins>;
    expect(o.cutoffs).toHaveLength(3);
    const t = (s: string) => Date.parse(`${s.replace(" ", "T")}Z`) / 1000;
    // oldest first; each origin's validation cutoff is the previous origin's cutoff, its test window before the next
    for (let k = 1; k < 3; k++) {
      expect(o.cutoffs[k]?.validation_cutoff).toBe(o.cutoffs[k - 1]?.cutoff);
      expect(t(o.cutoffs[k]?.cutoff as string)).toBeGreaterThan(t(o.cutoffs[k - 1]?.test_until as string));
    }
    // the latest origin is the document's own split
    expect(o.cutoffs[2]?.cutoff).toBe(doc.split.cutoff);
    const hybrid = o.ndcg_at_10.hybrid?.all;
    expect(hybrid?.values).toHaveLength(3);
    expect(hybrid?.values[2]).toBe(doc.recommenders.hybrid?.all?.ndcg_at_10);
    const mean = (hybrid?.values ?? []).reduce((a, b) => a + b, 0) / 3;
    expect(hybrid?.mean).toBeCloseTo(mean, 12);
    expect(hybrid?.min).toBe(Math.min(...(hybrid?.values ?? [])));
    expect(hybrid?.max).toBe(Math.max(...(hybrid?.values ?? [])));
    for (const v of ["all", "novel"] as const) {
      const lead = o.lead[v];
      // the served model's own mean, not a stand-in
      expect(o.ndcg_at_10.served?.[v]?.mean).toBeGreaterThan(0);
      expect(lead.served_mean).toBe(o.ndcg_at_10.served?.[v]?.mean);
      expect(lead.ratio).toBeCloseTo(lead.served_mean / lead.baseline_mean, 12);
      expect(o.ndcg_at_10[lead.best_baseline]?.[v]?.mean).toBe(lead.baseline_mean);
      // how sure: the paired bootstrap's interval, around the ratio
      const [lo, hi] = lead.interval_95 ?? [Number.NaN, Number.NaN];
      expect(lo).toBeLessThan(lead.ratio);
      expect(hi).toBeGreaterThan(lead.ratio);
      // the standard error at T, from the readers behind the figure
      const served = doc.recommenders.served?.[v] as ProtocolMetrics;
      const behind = ndcgPerUser(served);
      const users = behind?.ndcg as Float64Array;
      expect(users).toHaveLength(served.users);
      // the baseline judged the same readers in the same order (what the interval pairs)
      expect(ndcgPerUser(doc.recommenders[lead.best_baseline]?.[v] as ProtocolMetrics)?.users).toEqual(behind?.users);
      const m = users.reduce((a, b) => a + b, 0) / users.length;
      expect(m).toBeCloseTo(served.ndcg_at_10, 12);
      const sd = Math.sqrt(users.reduce((a, b) => a + (b - m) ** 2, 0) / (users.length - 1));
      expect(served.ndcg_at_10_se).toBeCloseTo(sd / Math.sqrt(users.length), 12);
    }
    expect(o.chosen).toHaveLength(3);
    // at each origin, `served` is the model chosen there
    for (const v of ["all", "novel"] as const)
      o.chosen.forEach((c, k) => {
        expect(o.ndcg_at_10.served?.[v]?.values[k]).toBe(o.ndcg_at_10[c[v]]?.[v]?.values[k]);
      });
    expect(o.chosen[2]).toEqual(doc.tuning.ranker.chosen);
    // each origin's held-out validation figures (what chose there), oldest first
    expect(o.holdout).toHaveLength(3);
    expect(o.holdout[2]).toEqual(doc.tuning.ranker.holdout);
    // and the report's row of them, oldest first, as the cutoffs' columns are
    await writeReport(join(dir, "origins-report"), doc, run.log, run.engagement, run.test.cutoff);
    const report = readFileSync(join(dir, "origins-report/report.md"), "utf8");
    const cell = (k: number) => {
      const h = o.holdout[k]?.novel;
      return `${h?.ranker.toFixed(4)} / ${h?.hybrid.toFixed(4)} (${h?.users}; margin ${h?.margin.toFixed(4)})`;
    };
    expect(report).toContain(`| held-out novel: ranker / hybrid | ${[0, 1, 2].map(cell).join(" | ")} |`);
    // the forward comparison of each origin, and the tree count it served (every origin here has an earlier window)
    expect(o.forward[2]).toEqual(doc.tuning.ranker.forward);
    for (const k of [0, 1, 2]) {
      const f = o.forward[k];
      if (!f) throw new Error(`origin ${k} had an earlier window to judge forward from`);
      expect([o.holdout[k]?.all.trees, o.holdout[k]?.novel.trees]).toEqual([f.all.trees, f.novel.trees]);
      expect([o.holdout[k]?.all.blend, o.holdout[k]?.novel.blend]).toEqual([f.all.blend, f.novel.blend]);
    }
    expect(report).toContain(
      `| trees served (all / novel) | ${o.holdout.map((h) => `${h.all.trees} / ${h.novel.trees}`).join(" | ")} |`,
    );
    expect(report).toContain(
      `| blend served (all / novel) | ${o.holdout.map((h) => `${h.all.blend} / ${h.novel.blend}`).join(" | ")} |`,
    );
    const [lo, hi] = o.lead.all.interval_95 ?? [];
    expect(report).toContain(`**${o.lead.all.ratio.toFixed(3)}x** (95% interval ${lo?.toFixed(3)}-${hi?.toFixed(3)}x`);
    // the latest origin's ranker learned from the window its next older origin validates on as well
    expect(doc.tuning.ranker.windows).toBe(2);
    // the lead is over the best baseline by mean (reporting: chosen on test, it flatters no model of ours)
    for (const v of ["all", "novel"] as const) {
      const means = BASELINES.flatMap((b) => {
        const m = o.ndcg_at_10[b]?.[v]?.mean;
        return m === undefined ? [] : [m];
      });
      expect(means.length).toBeGreaterThan(2);
      for (const m of means) expect(m).toBeLessThanOrEqual(o.lead[v].baseline_mean);
    }

    // an older origin is exactly the one-origin evaluation of the log as it stood at the next cutoff: models shared
    // between origins (FitCache) are the ones that evaluation would fit
    const cutoff = t(o.cutoffs[2]?.cutoff as string);
    writeRetailCsv(
      join(dir, "shop-ii-until.csv"),
      syntheticRetail(3).filter((r) => Date.parse(`${r.date.replace(" ", "T")}Z`) / 1000 < cutoff),
      "ii",
    );
    const earlier = (await runEvaluation({ data: join(dir, "shop-ii-until.csv"), progress: false })).document;
    expect(earlier.split.cutoff).toBe(o.cutoffs[1]?.cutoff);
    expect(o.holdout[1]).toEqual(earlier.tuning.ranker.holdout);
    expect(o.forward[1]).toEqual(earlier.tuning.ranker.forward);
    for (const [name, variants] of Object.entries(o.ndcg_at_10)) {
      for (const [v, spread] of Object.entries(variants)) {
        expect([name, v, spread?.values[1]]).toEqual([
          name,
          v,
          earlier.recommenders[name]?.[v as "all" | "novel" | "cold"]?.ndcg_at_10,
        ]);
      }
    }
  });

  it("refuses a log too short for its origins, naming the split", async () => {
    writeRetailCsv(
      join(dir, "short.csv"),
      syntheticRetail(4).filter((r) => r.date < "2011-05-01"),
      "i",
    );
    await expect(runEvaluation({ data: join(dir, "short.csv"), origins: 4, progress: false })).rejects.toThrow(
      /origin \d's validation split has no users/,
    );
  });
});

describe("dates as spreadsheet exports write them", () => {
  it("reads month-first and day-first slash dates as UTC, deciding the order per file", async () => {
    const us = join(dir, "us-dates.csv");
    writeRetailCsv(us, [row("1", "20001", "A", "12/1/2010 8:26"), row("2", "20002", "B", "1/13/2011 14:05")], "i");
    const uk = join(dir, "uk-dates.csv");
    writeRetailCsv(uk, [row("1", "20001", "A", "1/12/2010 08:26"), row("2", "20002", "B", "13/01/2011 14:05")], "i");
    const iso = (t: number) => new Date(t * 1000).toISOString();
    expect(Array.from((await readPurchaseLog(us)).time, iso)).toEqual([
      "2010-12-01T08:26:00.000Z",
      "2011-01-13T14:05:00.000Z",
    ]);
    expect(Array.from((await readPurchaseLog(uk)).time, iso)).toEqual([
      "2010-12-01T08:26:00.000Z",
      "2011-01-13T14:05:00.000Z",
    ]);
  });

  it("drops unreadable dates and counts them", async () => {
    const path = join(dir, "bad-dates.csv");
    writeRetailCsv(path, [row("1", "20001", "A", "yesterday"), row("2", "20002", "B", "2011-01-13 14:05:00")], "i");
    const log = await readPurchaseLog(path);
    expect(log.rows).toBe(1);
    expect(log.dropped).toEqual({ "bad time": 1 });
  });
});

describe("logs too short to evaluate", () => {
  it("say why instead of reporting empty metrics", async () => {
    const path = join(dir, "short.csv");
    writeRetailCsv(
      path,
      [row("1", "20001", "A", "2011-01-01 10:00:00"), row("2", "20002", "A", "2011-01-02 10:00:00")],
      "i",
    );
    await expect(runEvaluation({ data: path, progress: false })).rejects.toThrow(
      /needs returning customers over more than 60 days/,
    );
  });

  it("say a log of three customers is too few to segment before fitting a model, not at the end", async () => {
    // three customers buying weekly for 20 weeks: every split has its readers, but k-means needs four to segment
    const rows = [0, 1, 2].flatMap((c) =>
      Array.from({ length: 20 }, (_, w) =>
        row(
          String(500_000 + c * 100 + w),
          String(20_000 + ((w + c) % 6)),
          String(12_000 + c),
          new Date(Date.UTC(2011, 0, 3 + w * 7 + c, 10)).toISOString().slice(0, 19).replace("T", " "),
        ),
      ),
    );
    const path = join(dir, "three-customers.csv");
    writeRetailCsv(path, rows, "i");
    // before: "3 customers are too few to segment", thrown by the segments, the last step, after every recommender
    await expect(runEvaluation({ data: path, progress: false })).rejects.toThrow(
      /^3 customers bought before the test cutoff \(2011-04-\d\d \d\d:\d\d:\d\d\): segmenting them \(kmeans\) needs 4 at least/,
    );
  });
});
