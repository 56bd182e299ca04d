/** The progress line of long commands when stderr is not a terminal: one a whole percent, not one a step. */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Progress } from "../../scripts/lib/progress";

/** A stream that is not a terminal, keeping what is written to it. */
function notATerminal() {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { out, lines };
}

describe("Progress, stderr not a terminal", () => {
  it("an import of 793 batches, reported once a batch and again at the same count: a line a whole percent", () => {
    const { out, lines } = notATerminal();
    const bar = new Progress(793, "import", out);
    for (let done = 1; done <= 793; done++) {
      bar.to(done, `${done}/793 batches sent`);
      bar.to(done, `${done}/793 batches sent`);
    }
    // 0% is passed by the first batches, then 1..100: every line a new percent, the last one the end
    expect(lines.length).toBeLessThanOrEqual(101);
    expect(new Set(lines.map((l) => /\[\s*(\d+)%\]/.exec(l)?.[1])).size).toBe(lines.length);
    expect(lines.at(-1)).toMatch(/^import \[100%\] \d+s 793\/793 batches sent$/);
  });

  it("a few steps: each its own line, with its message", () => {
    const { out, lines } = notATerminal();
    const bar = new Progress(4, "evaluate", out);
    for (const step of ["read", "split", "fit", "report"]) bar.step(step);
    expect(lines.map((l) => l.replace(/ \d+s /, " "))).toEqual([
      "evaluate [ 25%] read",
      "evaluate [ 50%] split",
      "evaluate [ 75%] fit",
      "evaluate [100%] report",
    ]);
  });
});
