/**
 * Runs an exported function of a script module in a worker thread, at most one per core at a time: the heavy fits
 * that do not depend on each other (the ranker's two modes, the points of a grid) use every core instead of one.
 * The worker loads the TypeScript through tsx, as the scripts run. Arguments are copied (structured clone: typed
 * arrays keep every bit), results are moved. The function must be pure: same arguments, same result, whether it
 * runs here or there. `OPENTIME_WORKERS=1` (or a single core) runs everything in this thread.
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

/** how many calls run at once: one per core, at most 4 (each holds its own copy of its arguments) */
export function workerCount(): number {
  const asked = Number(process.env.OPENTIME_WORKERS);
  const cores = Number.isInteger(asked) && asked > 0 ? asked : availableParallelism();
  return Math.max(1, Math.min(cores, 4));
}

let running = 0;
const queue: (() => void)[] = [];

/** Runs `run` once fewer than workerCount() runs are under way; a run that ends hands its place to the next. */
async function slot<T>(run: () => Promise<T>): Promise<T> {
  if (running >= workerCount()) await new Promise<void>((resolve) => queue.push(resolve));
  else running++;
  try {
    return await run();
  } finally {
    // the place passes straight to a waiter (so no call arriving meanwhile can take it too), else it is freed
    const next = queue.shift();
    if (next) next();
    else running--;
  }
}

/** tsx's ESM API (its "import" entry), found from this file (not from the working directory) */
const TSX = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve("tsx/package.json")), "dist/esm/api/index.mjs"),
).href;

/** What the worker runs: tsx's loader, then the module, then one call; the answer or the error goes back. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.tsx)
  .then((tsx) => tsx.register())
  .then(() => import(workerData.module))
  .then((mod) => {
    const result = mod[workerData.name](...workerData.args);
    const moved = [];
    const walk = (v, depth) => {
      if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && !moved.includes(v.buffer)) moved.push(v.buffer);
      else if (v && typeof v === "object" && depth < 3) for (const x of Object.values(v)) walk(x, depth + 1);
    };
    walk(result, 0);
    parentPort.postMessage({ result }, moved);
  })
  .catch((e) => parentPort.postMessage({ error: String(e && e.stack ? e.stack : e) }));
`;

/**
 * `module`'s export `name` called with `args`, in a worker thread (or here, with one worker). `module` is the
 * file's URL (`new URL("./x.ts", import.meta.url)`).
 */
export function inWorker<T>(module: URL, name: string, args: unknown[]): Promise<T> {
  return slot(async () => {
    if (workerCount() === 1) {
      const mod = (await import(module.href)) as Record<string, (...a: unknown[]) => T>;
      const fn = mod[name];
      if (!fn) throw new Error(`${module.pathname} has no export ${name}`);
      return fn(...args);
    }
    return new Promise<T>((resolve, reject) => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { tsx: TSX, module: module.href, name, args },
      });
      worker.once("message", (m: { result?: T; error?: string }) => {
        void worker.terminate();
        if (m.error !== undefined) reject(new Error(`${name} in a worker: ${m.error}`));
        else resolve(m.result as T);
      });
      worker.once("error", reject);
      // after an answer this changes nothing; without one (the worker exited, whatever its code) it is an error
      worker.once("exit", (code) => reject(new Error(`${name}'s worker exited (code ${code}) without an answer`)));
    });
  });
}

/**
 * `make()`, run in this thread while `call` (an inWorker call) runs in its worker, and both results. If `make`
 * throws, `call` is still waited for before the error goes on: no call is left running unread, and a failure of its
 * own is not left unhandled (the caller hears `make`'s error).
 */
export async function alongside<T, R>(call: Promise<T>, make: () => R): Promise<{ result: T; made: R }> {
  let made: R;
  try {
    made = make();
  } catch (e) {
    await call.catch(() => undefined);
    throw e;
  }
  return { result: await call, made };
}

/**
 * Every one of `calls` (inWorker calls, or work that starts them) ended, then their results in order, or the first
 * failure: unlike Promise.all, a failure does not leave the other calls running unread, holding their workers.
 */
export async function allEnded<T extends readonly unknown[]>(
  calls: {
    [K in keyof T]: Promise<T[K]>;
  },
): Promise<T> {
  const ended = await Promise.allSettled(calls);
  const failed = ended.find((e): e is PromiseRejectedResult => e.status === "rejected");
  if (failed) throw failed.reason;
  return ended.map((e) => (e as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
