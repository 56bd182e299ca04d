/**
 * The dashboard's line charts (worker/dashboard/svg-charts.ts) tell every arm an experiment can have apart, and
 * name a single day once, under its point.
 */
import { describe, expect, it } from "vitest";
import { MAX_VARIANTS } from "../../core/experiments/experiment";
import { lineChart } from "../../worker/dashboard/svg-charts";

describe("lines over days", () => {
  it("draws each of an experiment's arms (its variants and the holdout) in a colour of its own", () => {
    const arms = Array.from({ length: MAX_VARIANTS + 1 }, (_, k) => `arm-${k}`);
    const svg = lineChart(
      "exposures by day",
      ["2026-03-01", "2026-03-02"],
      arms.map((name, k) => ({ name, values: [k, k + 1] })),
    );
    // each series' points and its legend's swatch
    const colours = arms.map((name) => {
      const group = svg.slice(svg.indexOf(`data-series="${name}"`));
      const points = new Set(
        [...group.slice(0, group.indexOf("</g>")).matchAll(/fill="(#[0-9a-f]{6})"/g)].map((m) => m[1]),
      );
      const swatch = /<rect [^>]*fill="(#[0-9a-f]{6})"/.exec(group)?.[1];
      expect(points.size).toBe(1);
      expect([...points][0]).toBe(swatch);
      return swatch;
    });
    expect(new Set(colours).size).toBe(arms.length);
  });

  it("names a chart's only day once, under its point, not as a span from it to itself", () => {
    const svg = lineChart("exposures by day", ["2026-03-01"], [{ name: "a", values: [5] }]);
    expect(svg.match(/>2026-03-01</g)).toHaveLength(1);
    const point = /<circle cx="([\d.]+)"/.exec(svg)?.[1];
    expect(svg).toMatch(new RegExp(`<text x="${point}" y="[\\d.]+" [^>]*text-anchor="middle">2026-03-01</text>`));
  });
});
