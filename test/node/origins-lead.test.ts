/**
 * The lead over several origins (scripts/eval/origins.ts): its interval pairs the served model's and the
 * baseline's readers only when both judged the same readers in the same order, and is null, not an error, where a
 * cutoff tested nobody.
 */
import { describe, expect, it } from "vitest";
import { csrFromCoo } from "../../scripts/data/sparse";
import { summarizeOrigins } from "../../scripts/eval/origins";
import { evaluateVariant, type JudgedSplit } from "../../scripts/ranking/evaluate-recommender";

/** A split of `users` readers over 20 items: reader u bought item u % 20 before, and items u % 20 and 19 after. */
function split(users: number, novel: boolean): JudgedSplit {
  const rows = Array.from({ length: users }, (_, u) => u);
  const train = csrFromCoo(
    users,
    20,
    rows,
    rows.map((u) => u % 20),
    rows.map(() => 1),
  );
  const testAll = new Map(rows.map((u) => [u, new Set([u % 20, 19])]));
  const testNovel = new Map(novel ? rows.map((u) => [u, new Set([19])]) : []);
  return { train, testAll, testNovel };
}

/** served ranks the reader's own item, then 19, for even readers only; the baseline finds 19 for every third */
const served = (u: number) => (u % 2 === 0 ? [u % 20, 19] : [(u + 1) % 20]);
const baseline = (u: number) => (u % 3 === 0 ? [19, 0] : [0, 1, 2]);

function origin(s: JudgedSplit, order?: (u: number) => number) {
  const judge = (rank: (u: number) => number[], variant: "all" | "novel") =>
    evaluateVariant(s, variant, (u) => rank(u));
  const reordered: JudgedSplit = order
    ? { ...s, testAll: new Map([...s.testAll].sort((a, b) => order(a[0]) - order(b[0]))) }
    : s;
  return {
    served: { all: judge(served, "all"), novel: judge(served, "novel") },
    repeat: {
      all: evaluateVariant(reordered, "all", (u) => baseline(u)),
      novel: judge(baseline, "novel"),
    },
  };
}

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, u) => `${prefix}${u}`);

describe("the lead over origins", () => {
  it("gives an interval around the ratio, and null for a mode a cutoff tested nobody in", () => {
    const o = summarizeOrigins([origin(split(60, true)), origin(split(80, false))], [ids(60, "a"), ids(80, "b")]);
    const [lo, hi] = o.lead.all.interval_95 ?? [];
    expect(lo).toBeLessThan(o.lead.all.ratio);
    expect(hi).toBeGreaterThan(o.lead.all.ratio);
    // the second cutoff has no novel readers: no interval, and no throw
    expect(o.lead.novel.interval_95).toBeNull();
  });

  it("refuses to pair readers judged in another order", () => {
    const o = summarizeOrigins(
      [origin(split(60, true), (u) => -u), origin(split(80, true))],
      [ids(60, "a"), ids(80, "b")],
    );
    expect(o.lead.all.interval_95).toBeNull();
    expect(o.lead.novel.interval_95).not.toBeNull();
  });
});
