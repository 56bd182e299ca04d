/**
 * A Worker of its own for `npm run loadtest`: `wrangler dev` on a free loopback port, with its state in a fresh
 * directory (in memory, /dev/shm, where there is one) and random keys, stopped and deleted afterwards. The test
 * then measures the Worker, not the developer's disk or what an earlier run left in their local state; and it
 * never fills the developer's own dev server with 5,000 made-up readers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../lib/free-port";

export interface LoadTestServer {
  url: string;
  eventsKey: string;
  adminKey: string;
  /** where its state lives (deleted by stop) */
  stateDir: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 120_000;

export async function startLoadTestServer(log: (line: string) => void): Promise<LoadTestServer> {
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const stateDir = await mkdtemp(join(base, "opentime-loadtest-"));
  const port = await freePort();
  const key = () => randomBytes(24).toString("base64url");
  const eventsKey = key();
  const adminKey = key();
  const vars = { EVENTS_API_KEYS: eventsKey, ADMIN_API_KEYS: adminKey, TOKEN_SECRET: key() };
  const args = ["wrangler", "dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", stateDir];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  log(`starting wrangler dev on 127.0.0.1:${port}, state in ${stateDir}`);
  // its own process group, so that stop() ends wrangler and the workerd processes it started
  const child = spawn("npx", args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  // the group does not get the terminal's Ctrl-C: pass it on, and leave nothing running or in memory
  const onSignal = (signal: NodeJS.Signals) => {
    killGroup(child, "SIGKILL");
    rmSync(stateDir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const stop = async () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stopGroup(child);
    // workerd may still be closing its files
    await rm(stateDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => undefined);
  };
  try {
    await waitForReady(child);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `http://127.0.0.1:${port}`, eventsKey, adminKey, stateDir, stop };
}

function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => fail(new Error(`wrangler dev was not ready after ${READY_TIMEOUT_MS / 1000} s`)),
      READY_TIMEOUT_MS,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(new Error(`${e.message}\n${output.slice(-4000)}`));
    };
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-8000);
      if (output.includes("Ready on http")) {
        clearTimeout(timer);
        // after this, wrangler's request logs are read and dropped
        child.stdout?.off("data", onData);
        child.stderr?.off("data", onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => fail(new Error(`wrangler dev exited (${code}) before it was ready`)));
  });
}

/** Signals the whole group (npx, wrangler, workerd); false when none of it is left. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function stopGroup(child: ChildProcess): Promise<void> {
  const running = child.exitCode === null && child.signalCode === null;
  const exited = running ? new Promise<void>((resolve) => child.once("exit", () => resolve())) : Promise.resolve();
  // the group is signalled even when npx itself has gone: wrangler and workerd may not have
  if (!killGroup(child, "SIGTERM")) return;
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 10_000).unref());
  if ((await Promise.race([exited, timeout])) === "timeout") killGroup(child, "SIGKILL");
  // whatever of the group outlived npx
  await new Promise((r) => setTimeout(r, 500));
  killGroup(child, "SIGKILL");
}
