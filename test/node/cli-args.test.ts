/** The scripts' command lines refuse bad options and unreadable files with a message and an exit code, not a stack trace. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const run = (script: string, ...args: string[]) =>
  spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, script), ...args], { encoding: "utf8", cwd: root });

describe("command lines", () => {
  it("an unknown option or one without its value: the problem and the usage, exit 2", () => {
    const unknown = run("scripts/import/cli.ts", "--bogus");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown option '--bogus'.*\nusage: npm run import -- --data/s);
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
    const bare = run("scripts/eval/cli.ts", "--data");
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/'--data <value>' argument missing\nusage: npm run evaluate/);
  });

  it("a data file that is not there: the command's failure line, exit 1", () => {
    const missing = run("scripts/train/cli.ts", "--data", "/nonexistent/purchases.csv.gz", "--out", "/nonexistent/out");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(
      /^train failed: ENOENT: no such file or directory, open '\/nonexistent\/purchases.csv.gz'/m,
    );
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});
