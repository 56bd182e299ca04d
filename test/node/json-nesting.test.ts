/** The nesting count taken on a JSON body's bytes before it is parsed (worker/lib/json-nesting.ts). */
import { describe, expect, it } from "vitest";
import { MAX_JSON_NESTING, nestsDeeper } from "../../worker/lib/json-nesting";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("nestsDeeper counts the levels JSON.parse would build", () => {
  it("counts arrays and objects alike, up to the limit and past it", () => {
    expect(nestsDeeper(bytes(`${"[".repeat(MAX_JSON_NESTING)}${"]".repeat(MAX_JSON_NESTING)}`))).toBe(false);
    expect(nestsDeeper(bytes(`${"[".repeat(MAX_JSON_NESTING + 1)}${"]".repeat(MAX_JSON_NESTING + 1)}`))).toBe(true);
    expect(nestsDeeper(bytes(`${'{"a":'.repeat(3)}1}}}`), 2)).toBe(true);
    // levels closed before others open do not add up
    expect(nestsDeeper(bytes("[[1],[2],{},[[3]]]"), 3)).toBe(false);
  });

  it("reads brackets inside strings as text, escaped quotes and backslashes included", () => {
    expect(nestsDeeper(bytes(JSON.stringify({ a: "[[[[{{{{", b: 'say "[[[["', c: "\\", d: '\\"[[[' })), 1)).toBe(false);
    expect(nestsDeeper(bytes(JSON.stringify(["é[[[", "😀{{{{"])), 1)).toBe(false);
    // a string closed by an escaped backslash ends there: what follows counts
    expect(nestsDeeper(bytes('["\\\\",[[1]]]'), 2)).toBe(true);
  });
});
