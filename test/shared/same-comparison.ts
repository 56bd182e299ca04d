/**
 * Matching statistics (core/stats) to golden figures: `close` within `tolerance` of the value's size (at least
 * `floor`), `same` a whole comparison, p-values relative to themselves (tiny ones too). Shared by the tests.
 */
import { expect } from "vitest";
import type { Comparison, Estimate } from "../../core/stats/estimate";

export function close(actual: number, expected: number, what: string, tolerance = 1e-6, floor = 1): void {
  const bound = tolerance * Math.max(floor, Math.abs(expected)) + 1e-300;
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(bound);
}

/** A p-value within 1e-6 of itself. */
export function closeP(actual: number, expected: number, what: string): void {
  close(actual, expected, what, 1e-6, 1e-9);
}

export function same(
  actual: Comparison,
  expected: { absolute: Estimate | null; relative: Estimate | null },
  name: string,
): void {
  for (const kind of ["absolute", "relative"] as const) {
    const a = actual[kind];
    const e = expected[kind];
    expect(a === null, `${name} ${kind}: null as expected`).toBe(e === null);
    if (!a || !e) continue;
    for (const field of ["estimate", "ciLow", "ciHigh"] as const) close(a[field], e[field], `${name} ${kind}.${field}`);
    closeP(a.pValue, e.pValue, `${name} ${kind}.pValue`);
  }
}
