/**
 * Every file wrangler reads local secrets from is ignored by git, so none is committed: `.dev.vars` and its
 * per-environment `.dev.vars.<env>`, and `.env`, `.env.local`, `.env.<env>`, `.env.<env>.local` (wrangler dev reads
 * `.env` files since 2025, and its docs offer them beside `.dev.vars`). The committed example stays committed.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

/** Whether git would ignore `path` (it need not exist). */
const ignored = (path: string) => spawnSync("git", ["check-ignore", "-q", "--no-index", path]).status === 0;

describe("local secret files", () => {
  it.each([".dev.vars", ".dev.vars.staging", ".env", ".env.local", ".env.production", ".env.staging.local"])(
    "%s is ignored",
    (path) => expect(ignored(path)).toBe(true),
  );

  it("the committed example is not", () => {
    expect(ignored(".dev.vars.example")).toBe(false);
  });
});
