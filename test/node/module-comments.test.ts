/**
 * Every source file opens with a short module comment saying what it holds (README, Development): the TypeScript
 * and JavaScript of core/, worker/, scripts/ and test/ (after a `#!` line), the Python of test/golden/.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs|py)$/.test(p) ? [p] : [];
  });
}

/** The file's first line that is not a `#!` line: a comment (`/**`, `/*`, `//`; `"""` or `#` in Python). */
function opensWithComment(file: string): boolean {
  const first = readFileSync(file, "utf8")
    .replace(/^#!.*\n/, "")
    .trimStart();
  return file.endsWith(".py") ? /^("""|#)/.test(first) : /^(\/\*|\/\/)/.test(first);
}

describe("module comments", () => {
  it("every file of core/, worker/, scripts/ and test/ opens with one", () => {
    const all = ["core", "worker", "scripts", "test"].flatMap(files);
    expect(all.length).toBeGreaterThan(400);
    expect(all.filter((f) => !opensWithComment(f))).toEqual([]);
  });
});
