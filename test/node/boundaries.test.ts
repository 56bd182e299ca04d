/**
 * Import boundaries: core/ is pure (no Node, no Workers, no app code), the Worker and the training scripts never
 * import each other, routes are one endpoint per file and no library, and the offline pipeline's layers point one
 * way (README, Development).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(file, "utf8");
  // `import x from "m"`, `export ... from "m"`, `import("m")`, and a side-effect `import "m"`
  const pattern =
    /(?:import|export)[^"';]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^\s*import\s+["']([^"']+)["']/gm;
  return [...src.matchAll(pattern)].map((m) => (m[1] ?? m[2] ?? m[3]) as string);
}

describe("import boundaries", () => {
  it("core imports nothing but zod, mustache, stdlib's distributions and special functions (pure) and itself", () => {
    const pure = (i: string) =>
      i === "zod" || i === "mustache" || /^@stdlib\/(stats-base-dists|math-base-special)-/.test(i);
    // itself: a relative path that stays inside core/
    const inCore = (f: string, i: string) =>
      i.startsWith(".") && relative("core", join(dirname(f), i)).split(sep)[0] !== "..";
    for (const f of files("core")) {
      for (const i of imports(f)) expect(pure(i) || inCore(f, i), `${f} imports ${i}`).toBe(true);
    }
  });

  it("the worker never imports the scripts, nor Node built-ins other than workerd's native zlib", () => {
    for (const f of files("worker")) {
      for (const i of imports(f)) {
        // `node:fs` or plain `fs` alike (nodejs_compat resolves both)
        const builtin = (i.startsWith("node:") || builtinModules.includes(i)) && i !== "node:zlib" && i !== "zlib";
        expect(i.includes("scripts/") || builtin, `${f} imports ${i}`).toBe(false);
      }
    }
  });

  it("routes are not a library: only worker/app.ts imports worker/routes/*", () => {
    for (const f of files("worker")) {
      if (f === join("worker", "app.ts")) continue;
      for (const i of imports(f))
        expect(/(^|\/)routes\//.test(i) || (f.includes("routes/") && i.startsWith("./")), `${f} imports ${i}`).toBe(
          false,
        );
    }
  });

  it("one endpoint per route file", () => {
    for (const f of files(join("worker", "routes"))) {
      const endpoints = readFileSync(f, "utf8").match(/\bapp\.(get|post|put|patch|delete|on|all)\(/g) ?? [];
      expect(endpoints.length, `${f} registers ${endpoints.length} endpoints`).toBe(1);
    }
  });

  it("the scripts never import the worker", () => {
    for (const f of files("scripts")) {
      for (const i of imports(f)) expect(i.includes("worker/"), `${f} imports ${i}`).toBe(false);
    }
  });

  it("no two folders of scripts/ import each other, directly or through others (their layers point one way)", () => {
    // folder -> the folders its files import (a file at scripts/ itself is no folder)
    const uses = new Map<string, Set<string>>();
    for (const f of files("scripts")) {
      const [from, ...rest] = relative("scripts", f).split(sep);
      if (!rest.length) continue;
      for (const i of imports(f)) {
        if (!i.startsWith(".")) continue;
        const [to, ...below] = relative("scripts", join(dirname(f), i)).split(sep);
        if (to === ".." || !below.length || to === from) continue;
        uses.set(from as string, (uses.get(from as string) ?? new Set()).add(to as string));
      }
    }
    // a folder reached again from itself is a cycle; the path says which imports make it
    const cycleFrom = (start: string): string[] | null => {
      const seen = new Set<string>();
      const walk = (at: string, path: string[]): string[] | null => {
        for (const next of uses.get(at) ?? []) {
          if (next === start) return [...path, next];
          if (seen.has(next)) continue;
          seen.add(next);
          const found = walk(next, [...path, next]);
          if (found) return found;
        }
        return null;
      };
      return walk(start, [start]);
    };
    for (const folder of uses.keys()) expect(cycleFrom(folder)?.join(" -> "), `scripts/${folder}`).toBeUndefined();
  });

  it("the offline pipeline's layers point one way: data <- ranking <- learn <- segments <- engagement <- train <- eval", () => {
    const layers = ["data", "ranking", "learn", "segments", "engagement", "train", "eval"];
    layers.forEach((layer, level) => {
      for (const f of files(join("scripts", layer))) {
        for (const i of imports(f)) {
          if (!i.startsWith(".")) continue;
          const [top] = relative("scripts", join(dirname(f), i)).split(sep);
          const above = layers.indexOf(top as string) > level;
          expect(above, `${f} imports ${i} (a layer above scripts/${layer})`).toBe(false);
        }
      }
    });
  });
});
