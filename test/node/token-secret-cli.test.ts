/**
 * `npm run token` (and `npm run email`, through the same tokenSecret) mints only with a TOKEN_SECRET the Worker
 * takes: one shorter than 16 characters, or `.dev.vars.example`'s placeholder, is ignored by the Worker
 * (worker/env.ts), which then refuses every token; the CLI says so, exit 1, instead of printing a token no open accepts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const token = (secret: string) =>
  spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "scripts/token.ts"), "--user", "u1"], {
    encoding: "utf8",
    // no .dev.vars there: the environment's secret alone
    cwd: mkdtempSync(join(tmpdir(), "ot-token-secret-")),
    env: { ...process.env, TOKEN_SECRET: secret },
  });

describe("npm run token's secret", () => {
  it("refuses a TOKEN_SECRET the Worker ignores (shorter than 16 characters, or the placeholder), with why", () => {
    for (const secret of ["short-secret", "replace-with-a-long-random-string"]) {
      const r = token(secret);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/TOKEN_SECRET/);
      expect(r.stderr).not.toContain(secret);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const ok = token("a-secret-of-sixteen-or-more");
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
  });
});
