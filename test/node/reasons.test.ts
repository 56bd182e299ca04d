/**
 * The README's table of `X-Opentime-Reason` values, and its table of why a click was taken for a link scanner's,
 * are exactly the closed vocabularies of core/reasons.ts.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RECS_REASONS, SCANNER_REASONS, SLOT_ONLY_REASONS } from "../../core/reasons";

function readmeReasons(header = "| `X-Opentime-Reason` |"): string[] {
  const lines = readFileSync("README.md", "utf8").split("\n");
  const start = lines.findIndex((l) => l.startsWith(header));
  expect(start).toBeGreaterThan(0);
  const reasons: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const first = line.split("|")[1] ?? "";
    reasons.push(...[...first.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string));
  }
  return reasons;
}

describe("reasons", () => {
  it("the README lists every reason once, and nothing else", () => {
    const listed = readmeReasons();
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([...new Set([...RECS_REASONS, ...SLOT_ONLY_REASONS])].sort());
  });

  it("the README lists every reason a click is taken for a link scanner's once, and nothing else", () => {
    const listed = readmeReasons("| scanner reason |");
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([...SCANNER_REASONS].sort());
  });
});
