/**
 * The README's table of who writes what (section "State") names every Workers KV key of core/kv-keys.ts in its
 * first column, so each key has its writer, its readers and their consistency said. `<name>` in the table stands for
 * one part of a key, `*` for any rest (`model:*`).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";

/** The code spans of the first column of the table that starts with `| data | written by |`. */
function tableKeys(): string[] {
  const lines = readFileSync("README.md", "utf8").split("\n");
  const start = lines.findIndex((l) => l.startsWith("| data | written by |"));
  expect(start).toBeGreaterThan(0);
  const spans: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const first = line.split("|")[1] ?? "";
    spans.push(...[...first.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string));
  }
  return spans;
}

/** A table entry as a pattern over whole keys. */
function pattern(span: string): RegExp {
  const parts = span.split(/(<[^>]+>|\*)/).map((p) => {
    if (p === "*") return ".*";
    if (/^<[^>]+>$/.test(p)) return "[^:#]+";
    return p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  });
  return new RegExp(`^${parts.join("")}$`);
}

/** Every key kv-keys.ts makes, each part given as `x` (prefixes for listing aside: the keys they list are here). */
function exampleKeys(): [string, string][] {
  return Object.entries(kvKeys)
    .filter(([name]) => !name.endsWith("Prefix"))
    .map(([name, key]) => [
      name,
      typeof key === "string" ? key : (key as (...a: unknown[]) => string)(...Array(key.length).fill("x")),
    ]);
}

describe("the README's State table", () => {
  const patterns = tableKeys().map(pattern);

  it("is read, and its patterns match what they stand for", () => {
    expect(patterns.length).toBeGreaterThan(10);
    expect(pattern("model:*").test("model:als-1:manifest")).toBe(true);
    expect(pattern("profile:<user>").test("profile:c0000042")).toBe(true);
    expect(pattern("profile:<user>").test("features:c0000042:v1")).toBe(false);
  });

  it("names every KV key", () => {
    const missing = exampleKeys().filter(([, key]) => !patterns.some((p) => p.test(key)));
    expect(missing).toEqual([]);
  });
});
