/**
 * The README's Configuration table names exactly the Worker's bindings (`interface Bindings` in worker/env.ts, read
 * with the TypeScript parser), and every binding and variable wrangler.toml declares is one of them; its
 * `GET /v1/health` row names exactly the configuration problems health can list (worker/env.ts CONFIG_PROBLEMS).
 */
import { readFileSync } from "node:fs";
import ts from "typescript";
import { describe, expect, it } from "vitest";

function bindings(): string[] {
  const file = "worker/env.ts";
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const names: string[] = [];
  ts.forEachChild(source, (node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === "Bindings")
      for (const m of node.members) if (m.name) names.push(m.name.getText(source));
  });
  return names;
}

/** The code spans of the first column of the table that starts with `| binding | kind |`. */
function tableNames(): string[] {
  const lines = readFileSync("README.md", "utf8").split("\n");
  const start = lines.findIndex((l) => l.startsWith("| binding | kind |"));
  expect(start).toBeGreaterThan(0);
  const names: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    names.push(...[...(line.split("|")[1] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1] as string));
  }
  return names;
}

/** The names wrangler.toml gives the Worker: `binding = "X"`, `name = "X"` and the [vars] keys. */
function wranglerNames(): string[] {
  const toml = readFileSync("wrangler.toml", "utf8");
  const vars = toml.slice(toml.indexOf("[vars]"), toml.indexOf("\n[", toml.indexOf("[vars]") + 1));
  return [
    ...[...toml.matchAll(/^(?:binding|name) = "([A-Z][A-Z0-9_]*)"/gm)].map((m) => m[1] as string),
    ...[...vars.matchAll(/^([A-Z][A-Z0-9_]*) =/gm)].map((m) => m[1] as string),
  ];
}

describe("the README's Configuration table", () => {
  it("reads the bindings", () => {
    expect(bindings()).toContain("TOKEN_SECRET");
    expect(wranglerNames()).toEqual(expect.arrayContaining(["OPENTIME_KV", "READERS", "AMP_ALLOWED_SENDERS"]));
  });

  it("names every binding of worker/env.ts once, and nothing else", () => {
    const listed = tableNames();
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual(bindings().sort());
  });

  it("names every binding and variable of wrangler.toml", () => {
    expect(wranglerNames().filter((n) => !tableNames().includes(n))).toEqual([]);
  });
});

/** worker/env.ts's CONFIG_PROBLEMS, read from its source (the Worker's types are not the Node tests'). */
function configProblems(): string[] {
  const src = readFileSync("worker/env.ts", "utf8");
  const list = /export const CONFIG_PROBLEMS = \[([^\]]*)\] as const/.exec(src)?.[1] ?? "";
  return [...list.matchAll(/"([a-z_]+)"/g)].map((m) => m[1] as string);
}

describe("the README's GET /v1/health row", () => {
  it("names every problem `config` can list, and no other", () => {
    const row = readFileSync("README.md", "utf8")
      .split("\n")
      .find((l) => l.startsWith("| `GET /v1/health` |"));
    const listed = [...(row ?? "").slice((row ?? "").indexOf("when nothing")).matchAll(/`([a-z]+(?:_[a-z]+)+)`/g)].map(
      (m) => m[1],
    );
    expect(configProblems()).toContain("token_secret_missing");
    expect([...new Set(listed)].sort()).toEqual(configProblems().sort());
  });
});
