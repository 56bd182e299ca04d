/**
 * Logistic regression, clustering (with its ONNX export), send time, time to the next purchase and the
 * propensity's choice of model, on data with known answers.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import { assignSegment } from "../../core/segments";
import { bestHours, hourOfWeek } from "../../core/send-time";
import { readPurchaseLog } from "../../scripts/data/purchase-log";
import { dataset, propensityValidation, trainPropensity } from "../../scripts/engagement/propensity";
import { fitSendTime } from "../../scripts/engagement/send-time";
import { buyWithin, evaluateHazard, fitHazard, HAZARD_WEEKS } from "../../scripts/engagement/time-to-purchase";
import { buildSegmentGraph } from "../../scripts/export/segment-graph";
import { fitLogistic, predictLogit, sigmoid } from "../../scripts/learn/logistic";
import { Rng } from "../../scripts/lib/rng";
import { dbscan, kmeans, silhouette } from "../../scripts/segments/clustering";
import { type CustomerFeatures, customerFeatures } from "../../scripts/segments/rfm";
import { describeSegment, fitSegments } from "../../scripts/segments/segmenter";
import { type RetailRow, writeRetailCsv } from "./support/retail-csv";

describe("logistic regression", () => {
  it("recovers planted coefficients", () => {
    const rng = new Rng(4);
    const n = 60_000;
    const x = new Float64Array(n * 2);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const a = rng.normal() * 2 + 1;
      const b = rng.normal();
      x[i * 2] = a;
      x[i * 2 + 1] = b;
      y[i] = rng.next() < sigmoid(-0.5 + 1.5 * a - 2 * b) ? 1 : 0;
    }
    const m = fitLogistic(x, y, 2, { l2: 0.01 });
    // standard errors at this n are ~0.02-0.03: allow about three
    expect(Math.abs(m.intercept - -0.5)).toBeLessThan(0.08);
    expect(Math.abs((m.weights[0] as number) - 1.5)).toBeLessThan(0.08);
    expect(Math.abs((m.weights[1] as number) - -2)).toBeLessThan(0.08);
    expect(predictLogit(m, [0, 0])).toBeCloseTo(m.intercept);
  });
});

function blobs(seed: number, centres: number[][], perBlob: number, spread: number) {
  const rng = new Rng(seed);
  const d = (centres[0] as number[]).length;
  const x = new Float64Array(centres.length * perBlob * d);
  centres.forEach((c, b) => {
    for (let i = 0; i < perBlob; i++)
      for (let t = 0; t < d; t++) x[(b * perBlob + i) * d + t] = (c[t] as number) + rng.normal() * spread;
  });
  return x;
}

describe("clustering", () => {
  const centres = [
    [0, 0, 0],
    [4, 0, 0],
    [0, 4, 4],
  ];
  const x = blobs(1, centres, 100, 0.4);

  it("k-means finds planted blobs, and silhouette prefers the true k", () => {
    const scores = [2, 3, 4, 5].map((k) => silhouette(x, 300, 3, kmeans(x, 300, 3, k).labels));
    expect(scores.indexOf(Math.max(...scores))).toBe(1);
    const r = kmeans(x, 300, 3, 3);
    for (let b = 0; b < 3; b++) expect(new Set(r.labels.slice(b * 100, (b + 1) * 100)).size).toBe(1);
  });

  it("DBSCAN finds the blobs and calls isolated points noise", () => {
    const withOutlier = new Float64Array([...x, 20, 20, 20]);
    const labels = dbscan(withOutlier, 301, 3, 1, 5);
    expect(labels[300]).toBe(-1);
    expect(Math.max(...labels) + 1).toBe(3);
  });

  it("segments are described in words, and the ONNX export assigns as the reference does", async () => {
    const rng = new Rng(9);
    const customers: CustomerFeatures[] = Array.from({ length: 600 }, (_, i) => {
      const kind = i % 3; // champions, lapsed one-off, middle
      const recencyDays = [5, 300, 60][kind] as number;
      const frequency = [25, 1, 4][kind] as number;
      const monetary = [8000, 60, 600][kind] as number;
      const j = () => Math.exp(rng.normal() * 0.2);
      return {
        customer: i,
        recencyDays: recencyDays * j(),
        frequency: Math.max(1, Math.round(frequency * j())),
        monetary: monetary * j(),
        tenureDays: 300,
        avgBasketValue: 0,
        avgBasketLines: 0,
        invoicesLast30d: 0,
        invoicesLast90d: 0,
        invoicesPrior90d: 0,
        distinctItems: 0,
        avgDaysBetween: 0,
      };
    });
    const fit = fitSegments(customers, { kMin: 2, kMax: 6 });
    expect(fit.model.centroids).toHaveLength(3);
    expect(fit.silhouette).toBeGreaterThan(0.6);
    expect(fit.model.segments.map((s) => s.name).sort()).toEqual(
      ["Champions", "Lapsed one-off buyers", "Steady middle"].sort(),
    );
    const session = await ort.InferenceSession.create(buildSegmentGraph(fit.model));
    for (const c of customers.slice(0, 120)) {
      const raw = [c.recencyDays, c.frequency, c.monetary];
      const out = await session.run({ rfm: new ort.Tensor("float32", Float32Array.from(raw), [1, 3]) });
      const segment = out.segment?.data as BigInt64Array;
      expect(Number(segment[0])).toBe(assignSegment(fit.model, raw));
    }
  });

  it("segments a shop of 150,000 customers (labels are not spread into Math.max's arguments)", () => {
    const rng = new Rng(12);
    const n = 150_000;
    const customers: CustomerFeatures[] = Array.from({ length: n }, (_, i) => ({
      customer: i,
      recencyDays: [5, 300][i % 2] as number,
      frequency: [20, 1][i % 2] as number,
      monetary: ([5000, 50][i % 2] as number) * Math.exp(rng.normal() * 0.1),
      tenureDays: 300,
      avgBasketValue: 0,
      avgBasketLines: 0,
      invoicesLast30d: 0,
      invoicesLast90d: 0,
      invoicesPrior90d: 0,
      distinctItems: 0,
      avgDaysBetween: 0,
    }));
    const fit = fitSegments(customers, { kMin: 2, kMax: 2 });
    expect(fit.model.segments.map((s) => s.size)).toEqual([n / 2, n / 2]);
    expect(fit.silhouette).toBeGreaterThan(0.9);
  });

  it("a feature every customer shares (one order each, the same spend) says nothing of any segment", () => {
    // 40 customers of one order of 20, half of them 3 days ago, half 200: the mean of a constant column differs
    // from it by rounding, and its spread is that rounding (1e-16), which made every centroid's z-score millions
    const customers: CustomerFeatures[] = Array.from({ length: 40 }, (_, i) => ({
      customer: i,
      recencyDays: i % 2 ? 3 : 200,
      frequency: 1,
      monetary: 20,
      tenureDays: 300,
      avgBasketValue: 20,
      avgBasketLines: 1,
      invoicesLast30d: 0,
      invoicesLast90d: 0,
      invoicesPrior90d: 0,
      distinctItems: 1,
      avgDaysBetween: 0,
    }));
    const fit = fitSegments(customers);
    // two kinds of customer: two segments, whatever k the fit tried (a centroid nobody is nearest is no segment)
    expect(fit.model.segments.map((s) => s.size)).toEqual([20, 20]);
    expect(fit.model.centroids).toHaveLength(2);
    for (const s of fit.model.segments) {
      expect(s.name).not.toMatch(/Champions|big spenders|Loyal/);
      expect(s.description).toMatch(/average buyers .*average spend/);
    }
    for (const c of fit.model.centroids) for (const z of c.slice(1)) expect(Math.abs(z)).toBeLessThan(1e-3);
  });

  it("segments the same customers alike whatever order the log names them in", () => {
    const rng = new Rng(21);
    // no planted clusters: k-means has local optima to fall into, and k-means++ draws its seeds by position
    const customers: CustomerFeatures[] = Array.from({ length: 500 }, (_, i) => ({
      customer: i,
      recencyDays: Math.exp(rng.normal() * 1.2 + 3.5),
      frequency: 1 + Math.floor(Math.exp(rng.normal() * 0.9)),
      monetary: Math.exp(rng.normal() + 6),
      tenureDays: 300,
      avgBasketValue: 0,
      avgBasketLines: 0,
      invoicesLast30d: 0,
      invoicesLast90d: 0,
      invoicesPrior90d: 0,
      distinctItems: 0,
      avgDaysBetween: 0,
    }));
    const nameOf = (list: CustomerFeatures[]) => {
      const fit = fitSegments(list);
      return new Map(list.map((c, i) => [c.customer, fit.model.segments[fit.labels[i] as number]?.name]));
    };
    const asLogged = nameOf(customers);
    for (const seed of [1, 2, 3]) {
      const r = new Rng(seed);
      const shuffled = customers.map((c) => [r.next(), c] as const).sort((a, b) => a[0] - b[0]);
      expect(nameOf(shuffled.map(([, c]) => c))).toEqual(asLogged);
    }
  });

  it("refuses too few customers by saying so: k-means needs more customers than its smallest k", () => {
    const one = (customer: number): CustomerFeatures => ({
      customer,
      recencyDays: 10 * (customer + 1),
      frequency: customer + 1,
      monetary: 100 * (customer + 1),
      tenureDays: 300,
      avgBasketValue: 0,
      avgBasketLines: 0,
      invoicesLast30d: 0,
      invoicesLast90d: 0,
      invoicesPrior90d: 0,
      distinctItems: 0,
      avgDaysBetween: 0,
    });
    for (const n of [2, 3]) {
      const customers = Array.from({ length: n }, (_, i) => one(i));
      expect(() => fitSegments(customers, { kMin: 3 })).toThrow(`${n} customers are too few to segment`);
    }
    expect(fitSegments([0, 1, 2, 3].map(one), { kMin: 3 }).model.centroids).toHaveLength(3);
  });

  it("names centroids from their z-scores", () => {
    expect(describeSegment([1.5, -1, 0.8], [200, 1, 900]).name).toBe("Lapsed big spenders");
    // on a short log the least recent bought days ago: never called lapsed, whatever the z-score says
    const recent = describeSegment([1.5, -1, 0.8], [2, 1, 900]);
    expect(recent.name).toBe("Loyal regulars");
    expect(recent.description).toMatch(/^bought less recently than most \(typically 2 days ago\)/);
    expect(describeSegment([-1, 1, 1], [3, 30, 9000]).description).toMatch(
      /bought recently .*frequent buyers .*high spend/,
    );
  });
});

describe("send time", () => {
  it("a customer's own hours win over the shop's when they are habitual", () => {
    const rng = new Rng(2);
    const history = new Map<number, number[]>();
    for (let c = 0; c < 200; c++) {
      const peak = 7 + (c % 12);
      history.set(
        c,
        Array.from({ length: 10 }, () => rng.int(7) * 24 + peak + (rng.next() < 0.3 ? 1 : 0)),
      );
    }
    const m = fitSendTime(history, () => -1, 0, { customerPrior: 2, spread: 0.1 });
    const c = 5;
    expect(bestHours(m.customer(history.get(c) as number[], -1), 3)[0]).toBe(7 + (c % 12));
    expect(m.customer([], -1)).toEqual(m.shop);
    const sum = m.customer(history.get(c) as number[], -1).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1);
  });

  it("hour of week counts from Sunday 00:00 UTC", () => {
    expect(hourOfWeek(Date.UTC(2026, 10, 22, 0, 30) / 1000)).toBe(0); // a Sunday
    expect(hourOfWeek(Date.UTC(2026, 10, 24, 9, 0) / 1000)).toBe(2 * 24 + 9);
  });
});

/** Customers who buy like clockwork every `cadence` days (a day of jitter), from a random phase, over 300 days. */
function cadenceShop(seed: number): RetailRow[] {
  const rng = new Rng(seed);
  const rows: RetailRow[] = [];
  const start = Date.UTC(2011, 0, 3, 10);
  let invoice = 600000;
  for (let c = 0; c < 400; c++) {
    const cadence = [7, 21, 45][c % 3] as number;
    for (let day = rng.next() * cadence; day < 300; day += cadence + (rng.next() - 0.5) * 2) {
      const date = new Date(start + Math.floor(day) * 86_400_000).toISOString().replace("T", " ").slice(0, 19);
      rows.push({
        invoice: String(invoice++),
        code: String(30000 + rng.int(40)),
        description: "MUG",
        quantity: 1 + rng.int(5),
        date,
        price: 2,
        customer: String(15000 + c),
        country: "United Kingdom",
      });
    }
  }
  return rows;
}

describe("time to the next purchase (discrete-time hazard)", () => {
  const dir = mkdtempSync(join(tmpdir(), "ot-hazard-"));
  const path = join(dir, "cadence.csv");
  writeRetailCsv(path, cadenceShop(3), "i");

  it("knows who is due: beats recency alone on 'buys within 7 days', and a longer horizon is never less likely", async () => {
    const log = await readPurchaseLog(path);
    const cutoff = Date.UTC(2011, 8, 1) / 1000;
    const h = evaluateHazard(log, cutoff) as NonNullable<ReturnType<typeof evaluateHazard>>;
    expect(h.auc).toBeGreaterThan(0.8);
    expect(h.auc).toBeGreaterThan(h.baseline_auc + 0.05);
    expect(h.ece).toBeLessThan(0.1);
    const model = fitHazard(log, cutoff - HAZARD_WEEKS * 7 * 86400);
    for (const f of customerFeatures(log, cutoff).slice(0, 50)) {
      const week = buyWithin(model as NonNullable<typeof model>, f, 7);
      // four weeks' hazards, not one week's again
      expect(buyWithin(model as NonNullable<typeof model>, f, 30)).toBeGreaterThan(week);
      expect(week).toBeGreaterThan(0);
      expect(week).toBeLessThan(1);
    }
  });

  it("gives no model when nothing can be learned (the log starts after the fitting cutoff)", async () => {
    const log = await readPurchaseLog(path);
    expect(fitHazard(log, Date.UTC(2010, 0, 1) / 1000)).toBeNull();
  });
});

describe("purchase propensity: logistic or trees", () => {
  it("labels a buy in the horizon after the cutoff, and validates on a fit whose labels end at the cutoff", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ot-propensity-horizon-"));
    const rows = cadenceShop(6);
    writeRetailCsv(join(dir, "shop.csv"), rows, "i");
    const log = await readPurchaseLog(join(dir, "shop.csv"));
    const at = (r: RetailRow) => Date.parse(`${r.date.replace(" ", "T")}Z`) / 1000;
    // who bought in [from, from + days), from the CSV rows themselves
    const buyers = (from: number, days: number) =>
      new Set(rows.filter((r) => at(r) >= from && at(r) < from + days * 86_400).map((r) => r.customer));
    const labelled = (d: ReturnType<typeof dataset>) =>
      new Set(d.feats.flatMap((f, i) => (d.y[i] === 1 ? [log.customerIds[f.customer] as string] : [])));
    const cutoff = Date.UTC(2011, 6, 1) / 1000;
    for (const days of [7, 30]) {
      const d = dataset(log, cutoff, days);
      expect(labelled(d)).toEqual(buyers(cutoff, days));
      // some customers bought in the window, some did not
      expect(labelled(d).size).toBeGreaterThan(0);
      expect(labelled(d).size).toBeLessThan(d.feats.length);
    }
    // the validation fit learns one horizon back: labels from [cutoff - 30d, cutoff), judged on [cutoff, +30d)
    const v = propensityValidation(log, cutoff, 30);
    expect(labelled(v.train)).toEqual(buyers(cutoff - 30 * 86_400, 30));
    expect(labelled(v.test)).toEqual(buyers(cutoff, 30));
    expect(v.probs).toHaveLength(v.test.feats.length);
  });

  it("fits both on the horizon before, keeps the lower log loss, and reports both on test", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ot-propensity-"));
    writeRetailCsv(join(dir, "shop.csv"), cadenceShop(5), "i");
    const log = await readPurchaseLog(join(dir, "shop.csv"));
    const r = trainPropensity(log, Date.UTC(2011, 8, 1) / 1000, 30);
    expect(r.chosen).toBe(r.validation.gbdt.log_loss < r.validation.logistic.log_loss ? "gbdt" : "logistic");
    expect(r.auc).toBe(r.test[r.chosen].auc);
    for (const k of ["logistic", "gbdt"] as const) expect(r.test[k].auc).toBeGreaterThan(0.6);
  });
});
