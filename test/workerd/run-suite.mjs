/**
 * `npm run test:workerd`: the workerd suite, watched for a stalled runtime. workerd itself can hang at 100% CPU
 * in V8's garbage-collection sweeper (seen once in three clean CI runs of this suite, 2026-12): no JavaScript
 * runs any more, so no test timeout fires and vitest waits forever. When the suite prints nothing for STALL_S
 * seconds, this kills it and runs again, once, only the files not yet passed. A file that failed
 * fails the run as it is (no retry hides a failing test); a second stall fails it too. Arguments go to vitest
 * (then a stall fails at once: the files chosen are run once).
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { stripVTControlCharacters } from "node:util";

const CONFIG = "test/workerd/vitest.config.ts";
/** Seconds without output after which the suite counts as stalled (a healthy file ends within half a minute). */
const STALL_S = Number(process.env.OPENTIME_WORKERD_STALL_S ?? 480);

/** Runs vitest on `files` (all when empty); resolves to its exit code, or "stalled", with the files it passed. */
function run(files, extra) {
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", "--config", CONFIG, ...extra, ...files], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const passed = new Set();
    let failed = false;
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        process.kill(-child.pid, "SIGKILL");
        resolve({ code: "stalled", passed, failed });
      }, STALL_S * 1000);
    };
    const watch = (chunk, out) => {
      out.write(chunk);
      for (const line of stripVTControlCharacters(chunk.toString()).split("\n")) {
        const ok = /^\s*✓ (test\/workerd\/\S+\.test\.ts)/.exec(line);
        if (ok) passed.add(ok[1]);
        if (/^\s*(❯|×|FAIL)\s/.test(line)) failed = true;
      }
      arm();
    };
    child.stdout.on("data", (c) => watch(c, process.stdout));
    child.stderr.on("data", (c) => watch(c, process.stderr));
    // "close", not "exit": the output may still be arriving when the process has exited
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, passed, failed });
    });
    arm();
  });
}

const extra = process.argv.slice(2);
const first = await run([], extra);
if (first.code !== "stalled") process.exit(first.code);
// a run of chosen files or options (`npm run test:workerd -- <file>`) is not run again: it is someone watching
if (first.failed || extra.length > 0) {
  console.error(
    `\nworkerd suite: no output for ${STALL_S} s (a stalled runtime${first.failed ? ", after a failure" : ""}): failed`,
  );
  process.exit(1);
}
const all = readdirSync("test/workerd")
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => `test/workerd/${f}`);
const rest = all.filter((f) => !first.passed.has(f));
console.error(
  `\nworkerd suite: no output for ${STALL_S} s (a stalled runtime); ${first.passed.size} of ${all.length} files had passed. Running the other ${rest.length} again, once.`,
);
const second = await run(rest, extra);
if (second.code === "stalled") {
  console.error(`\nworkerd suite: stalled again (no output for ${STALL_S} s): failed`);
  process.exit(1);
}
process.exit(second.code);
