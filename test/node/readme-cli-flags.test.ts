/**
 * Every option the README gives an `npm run <script> -- ...` command line is one that script's CLI takes: the
 * `options` of its `cliArgs` call (scripts/lib/cli-args.ts), read from the source with the TypeScript parser, the
 * script's file from package.json. Also the two "Options:" paragraphs (the email builder's, the trainer's). And the
 * Development table names every script of package.json.
 */
import { readFileSync } from "node:fs";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const README = readFileSync("README.md", "utf8");
const SCRIPTS = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts;

/** The options a CLI file declares: the keys of `options` in the object its `cliArgs(usage, {...})` call gets. */
function cliOptions(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "cliArgs") {
      const config = node.arguments[1];
      if (config && ts.isObjectLiteralExpression(config)) {
        for (const p of config.properties) {
          if (!ts.isPropertyAssignment(p) || p.name.getText(source) !== "options") continue;
          if (!ts.isObjectLiteralExpression(p.initializer)) continue;
          for (const o of p.initializer.properties)
            if (o.name) found.push(o.name.getText(source).replace(/^"|"$/g, ""));
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The CLI file behind `npm run <script>` (`tsx <file>`), or null for one that is not a tsx script. */
function cliFile(script: string): string | null {
  const m = /^tsx (\S+\.ts)$/.exec(SCRIPTS[script] ?? "");
  return m ? (m[1] as string) : null;
}

/** `[script, option]` of every option on a README command line: up to its code span's end, the line's, or a `#`. */
function readmeOptions(): [string, string][] {
  const out: [string, string][] = [];
  for (const m of README.matchAll(/npm run (?:-s )?([a-z:]+) -- ([^`\n#]*)/g)) {
    for (const f of (m[2] as string).matchAll(/--([a-z][a-z0-9-]*)/g)) out.push([m[1] as string, f[1] as string]);
  }
  // the paragraphs that list a command's options in prose
  for (const [anchor, script] of [
    ["Options: `--template", "email"],
    ["Options: `--factors", "train"],
  ] as const) {
    const at = README.indexOf(anchor);
    expect(at, anchor).toBeGreaterThan(0);
    const paragraph = README.slice(at, README.indexOf("\n\n", at));
    // a span holding its own command line (`npm run demo -- ...`) was read above
    for (const span of paragraph.matchAll(/`([^`]*)`/g)) {
      if ((span[1] as string).includes("npm run")) continue;
      for (const f of (span[1] as string).matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)) out.push([script, f[1] as string]);
    }
  }
  return out;
}

describe("the README's command lines", () => {
  it("reads the CLIs' options", () => {
    expect(cliOptions("scripts/token.ts")).toEqual(["user", "campaign", "ttl-days", "unsubscribe"]);
    expect(cliOptions(cliFile("models") as string)).toContain("url");
  });

  it("name only scripts package.json has, and only options their CLI takes", () => {
    const options = readmeOptions();
    expect(options.length).toBeGreaterThan(40);
    const wrong = options.filter(([script, option]) => {
      const file = cliFile(script);
      return file === null || !cliOptions(file).includes(option);
    });
    expect(wrong).toEqual([]);
  });

  it("the Development table names every script of package.json", () => {
    const lines = README.split("\n");
    const start = lines.findIndex((l) => l.startsWith("| command | what |"));
    expect(start).toBeGreaterThan(0);
    const named = new Set<string>();
    for (const line of lines.slice(start + 2)) {
      if (!line.startsWith("|")) break;
      // `npm run email -- ...`, `npm start`, or a script alone (`train`, `test:node`)
      for (const m of line.matchAll(/`(?:npm (?:run )?([a-z][a-z:-]*)[^`]*|([a-z][a-z:-]*))`/g))
        named.add((m[1] ?? m[2]) as string);
    }
    expect(Object.keys(SCRIPTS).filter((s) => !named.has(s))).toEqual([]);
  });
});
