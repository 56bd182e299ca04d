/**
 * `npm run test:workerd`: the workerd suite, in rounds of at most ROUND_FILES files, each round a vitest (and a
 * workerd) of its own, watched for a stalled runtime. workerd can hang at 100% CPU in V8's garbage-collection
 * sweeper (perf showed cppgc's IncrementalSweepTask reposting itself): no JavaScript runs any more, so no test
 * timeout fires and vitest waits forever. Seen in clean CI runs of this suite, 2026-12: twice after 20-odd files had
 * run in one workerd, once in a fresh one right after model-loads-outlive.test.ts. Rounds keep each workerd's life
 * short; they do not rule the hang out. When a round prints nothing for STALL_S seconds, this
 * kills it and runs its files not yet passed again, once: first each file that was running at the stall alone, in a
 * workerd of its own (start-reporter.mjs says which were), then the others together. A file that failed fails the
 * run as it is (no retry hides a failing test); a stall in the second try fails it too, naming the files running.
 * Every round runs, whatever an earlier one gave. Arguments go to one vitest run as they are (a stall then fails at
 * once: someone is watching).
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { stripVTControlCharacters } from "node:util";

const CONFIG = "test/workerd/vitest.config.ts";
const REPORTER = "test/workerd/start-reporter.mjs";
/** Seconds without output after which the suite counts as stalled (a healthy file ends within half a minute). */
const STALL_S = Number(process.env.OPENTIME_WORKERD_STALL_S ?? 480);

/** Every failing test's line, across rounds: printed again at the end, where a CI log's tail shows it. */
const failingTests = [];

/** Runs vitest on `files` (all when empty); resolves to its exit code, or "stalled", with the files it passed. */
function run(files, extra) {
  return new Promise((resolve) => {
    const reporters = ["--reporter=default", `--reporter=./${REPORTER}`];
    const child = spawn("npx", ["vitest", "run", "--config", CONFIG, ...reporters, ...extra, ...files], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const passed = new Set();
    const started = new Set();
    let failed = false;
    const failures = [];
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        process.kill(-child.pid, "SIGKILL");
        resolve({ code: "stalled", passed, failed, failures, running: [...started].filter((f) => !passed.has(f)) });
      }, STALL_S * 1000);
    };
    const watch = (chunk, out) => {
      out.write(chunk);
      for (const line of stripVTControlCharacters(chunk.toString()).split("\n")) {
        const ok = /^\s*✓ (test\/workerd\/\S+\.test\.ts)/.exec(line);
        if (ok) passed.add(ok[1]);
        const start = /^▶ (test\/workerd\/\S+\.test\.ts)$/.exec(line.trim());
        if (start) started.add(start[1]);
        if (/^\s*(❯|×|FAIL)\s/.test(line)) failed = true;
        // vitest's "FAIL <file> > <test>" and "× <test>" lines, for the summary at the end
        if (/^\s*(×|FAIL)\s/.test(line) && !failures.includes(line.trim())) {
          failures.push(line.trim());
          failingTests.push(line.trim());
        }
      }
      arm();
    };
    child.stdout.on("data", (c) => watch(c, process.stdout));
    child.stderr.on("data", (c) => watch(c, process.stderr));
    // "close", not "exit": the output may still be arriving when the process has exited
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, passed, failed, failures });
    });
    arm();
  });
}

/** Files per round: about a quarter of the suite (each round trains its fixtures again: global-setup.ts). */
const ROUND_FILES = 14;

/** Runs `files` in one vitest; after a stall, what had not passed again, once. Resolves to an exit code. */
async function round(files) {
  const first = await run(files, []);
  if (first.code !== "stalled") return first.code;
  const running = first.running.join(", ") || "no file";
  if (first.failed) {
    console.error(
      `\nworkerd suite: no output for ${STALL_S} s (a stalled runtime, after a failure) while ${running} ran: failed`,
    );
    return 1;
  }
  const rest = files.filter((f) => !first.passed.has(f));
  const alone = first.running.filter((f) => rest.includes(f));
  console.error(
    `\nworkerd suite: no output for ${STALL_S} s (a stalled runtime) while ${running} ran; ${first.passed.size} of this round's ${files.length} files had passed. Running the other ${rest.length} again, once: ${alone.length > 0 ? "those running alone first, then " : ""}the rest together.`,
  );
  for (const group of [...alone.map((f) => [f]), rest.filter((f) => !alone.includes(f))]) {
    if (group.length === 0) continue;
    const again = await run(group, []);
    if (again.code === "stalled") {
      const named = again.running.join(", ") || "no file";
      console.error(`\nworkerd suite: stalled again (no output for ${STALL_S} s while ${named} ran): failed`);
      return 1;
    }
    if (again.code !== 0) return again.code;
  }
  return 0;
}

const extra = process.argv.slice(2);
// a run of chosen files or options (`npm run test:workerd -- <file>`) runs once, as it is: someone is watching
if (extra.length > 0) {
  const once = await run([], extra);
  if (once.code === "stalled") {
    const named = once.running.join(", ") || "no file";
    console.error(`\nworkerd suite: no output for ${STALL_S} s (a stalled runtime) while ${named} ran: failed`);
    process.exit(1);
  }
  process.exit(once.code);
}
const all = readdirSync("test/workerd")
  .filter((f) => f.endsWith(".test.ts"))
  .sort()
  .map((f) => `test/workerd/${f}`);
const rounds = Math.ceil(all.length / ROUND_FILES);
let code = 0;
const failedRounds = [];
for (let i = 0; i < rounds; i++) {
  // every round-th file, so each round holds big and small files alike
  const files = all.filter((_, j) => j % rounds === i);
  console.error(`\nworkerd suite: round ${i + 1} of ${rounds}, ${files.length} files`);
  const got = await round(files);
  if (got !== 0) failedRounds.push(`${i + 1} (exit ${got})`);
  if (code === 0) code = got;
}
if (failedRounds.length > 0) {
  // the rounds' output scrolls away; a log's last lines say what failed
  console.error(`\nworkerd suite: FAILED in round ${failedRounds.join(", ")} of ${rounds}`);
  for (const line of failingTests.slice(0, 40)) console.error(`  ${line}`);
  if (failingTests.length > 40) console.error(`  ... and ${failingTests.length - 40} more`);
} else console.error(`\nworkerd suite: all ${rounds} rounds passed (${all.length} files)`);
process.exit(code);
