/**
 * A CLI that needs the Worker's admin key and has none says how to get one and how to point at a deployed Worker:
 * its message names ADMIN_API_KEY and the CLI's option for the Worker's address (`npm run email`: --api-url; the
 * others: --url), for a Worker on this machine (no .dev.vars) and for a deployed one.
 */
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { adminKey } from "../../scripts/lib/dev-vars";

const ROOT = resolve(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const run = promisify(execFile);

/** A CLI run in an empty directory (no .dev.vars) with no admin key in the environment: its exit code and stderr. */
async function withoutKey(script: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const cwd = await mkdtemp(join(tmpdir(), "opentime-no-key-"));
  const env: NodeJS.ProcessEnv = { ...process.env, TOKEN_SECRET: "no-key-test-secret-0123456789abcdef" };
  delete env.ADMIN_API_KEY;
  delete env.ADMIN_API_KEYS;
  await writeFile(join(cwd, "recipients.csv"), "user_id,email\nu1,u1@example.com\n");
  try {
    await run(TSX, [join(ROOT, script), ...args], { cwd, env, encoding: "utf8" });
    return { code: 0, stderr: "" };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

const EMAIL = ["--campaign", "c", "--recipients", "recipients.csv", "--out", "out", "--shop-url", "https://shop.ex/"];

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("no admin key", () => {
  it("the message names ADMIN_API_KEY and the CLI's option for the Worker's address", () => {
    vi.stubEnv("ADMIN_API_KEY", "");
    vi.stubEnv("ADMIN_API_KEYS", "");
    for (const flag of ["--url", "--api-url"] as const) {
      expect(() => adminKey("https://opentime.shop.example", flag)).toThrow(
        `no admin key for the Worker at https://opentime.shop.example (${flag}): set ADMIN_API_KEY`,
      );
    }
  });

  it("npm run email: for a Worker on this machine and for a deployed one, both name --api-url", async () => {
    const local = await withoutKey("scripts/email/cli.ts", [...EMAIL, "--api-url", "http://127.0.0.1:9"]);
    expect(local.code).toBe(1);
    expect(local.stderr).toContain("set ADMIN_API_KEY");
    expect(local.stderr).toContain("for a deployed Worker, give its address with --api-url https://<your worker>");
    // --api-url defaults to --base-url: the message names the address it would have asked
    const deployed = await withoutKey("scripts/email/cli.ts", [
      ...EMAIL,
      "--base-url",
      "https://opentime.shop.example",
    ]);
    expect(deployed.code).toBe(1);
    expect(deployed.stderr).toContain(
      "no admin key for the Worker at https://opentime.shop.example (--api-url): set ADMIN_API_KEY",
    );
  }, 60_000);

  it("npm run models -- list --url: names --url", async () => {
    const deployed = await withoutKey("scripts/models/cli.ts", ["list", "--url", "https://opentime.shop.example"]);
    expect(deployed.code).toBe(1);
    expect(deployed.stderr).toContain("(--url): set ADMIN_API_KEY");
    const local = await withoutKey("scripts/models/cli.ts", ["list", "--url", "http://127.0.0.1:9"]);
    expect(local.stderr).toContain("for a deployed Worker, give its address with --url https://<your worker>");
  }, 60_000);
});
