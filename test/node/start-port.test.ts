/**
 * `npm start` refuses a PORT that names no port (`PORT=abc`, `PORT=`, `PORT=70000`) with a message saying what
 * to give, before anything is written or started; unset, it serves on 8787. A port something already listens on is
 * refused the same way, rather than after the demo shop, the training and the seed, when wrangler cannot bind it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { portFromEnv } from "../../scripts/lib/port-env";

const ROOT = resolve(import.meta.dirname, "../..");

describe("npm start's PORT", () => {
  it("reads a whole number from 1 to 65535, and 8787 when unset", () => {
    expect(portFromEnv(undefined)).toEqual({ port: 8787 });
    expect(portFromEnv("8792")).toEqual({ port: 8792 });
    expect(portFromEnv("65535")).toEqual({ port: 65535 });
    for (const bad of ["abc", "", " 8787", "8787.5", "0", "65536", "-1", "1e3", "0x1f90", "８７８７"]) {
      const read = portFromEnv(bad);
      expect(read, bad).toHaveProperty("error");
      expect((read as { error: string }).error).toContain("from 1 to 65535");
    }
  });

  it("stops `npm start` with the message before anything is written or started", () => {
    const cwd = mkdtempSync(join(tmpdir(), "ot-port-"));
    try {
      const run = spawnSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "scripts/start.ts")], {
        cwd,
        env: { ...process.env, PORT: "abc" },
        encoding: "utf8",
        // a guard only: the check answers at once; without it the command would go on to build the demo shop
        timeout: 60_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('PORT="abc" is not a port: give a whole number from 1 to 65535');
      expect(existsSync(join(cwd, ".dev.vars"))).toBe(false);
      expect(readdirSync(cwd)).toEqual([]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
  it("stops `npm start` at once when something already listens on the port, naming it and what to do", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as { port: number }).port;
    const cwd = mkdtempSync(join(tmpdir(), "ot-port-busy-"));
    try {
      const run = spawnSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "scripts/start.ts")], {
        cwd,
        env: { ...process.env, PORT: String(port) },
        encoding: "utf8",
        // a guard only, as above: without the check it would build the demo shop and train before wrangler failed
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        `127.0.0.1:${port} is in use (another npm start or npm run dev?): stop it, or give another port (PORT=`,
      );
      expect(readdirSync(cwd)).toEqual([]);
    } finally {
      busy.close();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
