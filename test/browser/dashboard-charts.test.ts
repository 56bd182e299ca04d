/**
 * The dashboard's SVG charts (worker/dashboard/svg-charts.ts) as Chromium lays them out: every text lies within
 * the chart, and no two texts overlap, whatever the labels and values (long arm names, many arms, intervals at the
 * axis's ends, an end of the axis close to 0).
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { intervalChart, lineChart } from "../../worker/dashboard/svg-charts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let browser: Browser;
let page: Page;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
});

interface Box {
  text: string;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** The chart's width and each text's box, in the chart's own units, as the page (the dashboard's font) lays them out. */
async function layout(svg: string): Promise<{ width: number; texts: Box[] }> {
  await page.setContent(
    `<!doctype html><html><body style="margin:0;font:14px/1.45 system-ui, sans-serif">${svg}</body></html>`,
  );
  return page.evaluate(() => {
    const root = document.querySelector("svg") as SVGSVGElement;
    const texts = Array.from(root.querySelectorAll("text"), (t) => {
      const b = t.getBBox();
      return { text: t.textContent ?? "", left: b.x, right: b.x + b.width, top: b.y, bottom: b.y + b.height };
    });
    return { width: root.viewBox.baseVal.width, texts };
  });
}

function inside({ width, texts }: { width: number; texts: Box[] }): void {
  for (const t of texts) {
    expect(t.left, t.text).toBeGreaterThanOrEqual(0);
    expect(t.right, t.text).toBeLessThanOrEqual(width);
  }
}

function apart({ texts }: { texts: Box[] }): void {
  for (const [i, a] of texts.entries())
    for (const b of texts.slice(i + 1)) {
      const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      expect(overlap, `"${a.text}" over "${b.text}"`).toBe(false);
    }
}

describe("the uplift chart", () => {
  it("keeps a row's figures inside the chart when its interval ends at the axis's right end", async () => {
    const chart = await layout(
      intervalChart("uplift", [
        { label: "a: ctr", estimate: 0.1, low: 0.05, high: 0.15 },
        { label: "b: ctr", estimate: 1.55, low: 1.4, high: 1.6 },
      ]),
    );
    inside(chart);
    apart(chart);
  });

  it("writes the axis's ends apart from its 0, however close to it they are", async () => {
    const chart = await layout(
      intervalChart("uplift", [
        { label: "a: ctr", estimate: 0.9, low: -0.004, high: 2.1 },
        { label: "b: ctr", estimate: 0.3, low: 0.2, high: 0.4 },
      ]),
    );
    inside(chart);
    apart(chart);
  });

  it("keeps a long arm's label clear of its bar", async () => {
    const chart = await layout(
      intervalChart("uplift", [
        { label: "personalized-recs-spring: conversion", estimate: -0.3, low: -0.5, high: -0.1 },
        { label: "b: ctr", estimate: 0.3, low: 0.2, high: 0.4 },
      ]),
    );
    const label = chart.texts.find((t) => t.text.startsWith("personalized")) as Box;
    const figures = chart.texts.find((t) => t.text.startsWith("-30.0%")) as Box;
    // written whole, and ending before the row's figures start, where its bar starts (the axis's left end)
    expect(label.text).toBe("personalized-recs-spring: conversion");
    expect(label.right).toBeLessThan(figures.left);
    inside(chart);
    apart(chart);
  });

  it("cuts a label longer than its column can grow to in the middle, both its ends kept", async () => {
    const long = `${"x".repeat(40)}-spring: conversion`;
    const chart = await layout(intervalChart("uplift", [{ label: long, estimate: -0.3, low: -0.5, high: -0.1 }]));
    const label = chart.texts.find((t) => t.text.startsWith("xxx")) as Box;
    expect(label.text).toMatch(/^x+\u2026.*: conversion$/);
    inside(chart);
    apart(chart);
  });
});

describe("the lines over days", () => {
  it("keeps every arm's legend inside the chart, however many arms and however long their names", async () => {
    const names = ["personalized-recs-spring", "personalized-recs-autumn", "popular-items-control", "holdout"];
    const chart = await layout(
      lineChart(
        "exposures by day",
        ["2026-03-01", "2026-03-02"],
        names.map((name, k) => ({ name, values: [k, k + 1] })),
      ),
    );
    inside(chart);
    apart(chart);
    // eleven arms (ten variants and the holdout), each id 32 characters long
    const most = await layout(
      lineChart(
        "clicks by day",
        ["2026-03-01", "2026-03-02"],
        Array.from({ length: 11 }, (_, k) => ({ name: `arm-${k}-`.padEnd(32, "w"), values: [k, 2 * k] })),
      ),
    );
    expect(most.texts.filter((t) => t.text.startsWith("arm-"))).toHaveLength(11);
    inside(most);
    apart(most);
  });
});
