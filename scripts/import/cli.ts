/**
 * `npm run import -- --data <file.csv[.gz]> [--url http://127.0.0.1:8787] [--key <admin key>] [--concurrency 4] [--date-order dmy|mdy]`
 * Imports a historical purchase/event log into profiles through a running Worker (`npm run dev` locally,
 * or your deployment with --url). The admin key: --key, else ADMIN_API_KEY or the first of ADMIN_API_KEYS
 * from the environment, else from .dev.vars. Resumable: rerun the same command after an interruption (a file
 * changed since starts again).
 */
import { z } from "zod";
import { cliArgs, wholeNumber, workerUrlOrExit } from "../lib/cli-args";
import { adminKey } from "../lib/dev-vars";
import { Progress } from "../lib/progress";
import { checkAdminAccess } from "../lib/worker-admin";
import type { WorkerUrl } from "../lib/worker-url";
import { importLog, NothingSentError } from "./importer";

const USAGE =
  "usage: npm run import -- --data <file.csv[.gz]> [--url http://127.0.0.1:8787] [--key <admin key>] [--concurrency 4] [--checkpoint <file>] [--date-order dmy|mdy]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      data: { type: "string" },
      url: { type: "string", default: "http://127.0.0.1:8787" },
      key: { type: "string" },
      concurrency: { type: "string", default: "4" },
      checkpoint: { type: "string" },
      "date-order": { type: "string" },
    },
  },
  z.object({ concurrency: wholeNumber(1, 64), "date-order": z.enum(["dmy", "mdy"]).optional() }),
);
if (!values.data) {
  console.error(`--data is required: the file to import\n${USAGE}`);
  process.exit(2);
}
// checked as the other CLIs' --url: a URL, and plain http only to this machine (the admin key must not cross a network
// in clear)
const worker = workerUrlOrExit(values.url) as WorkerUrl;
let key: string;
try {
  // .dev.vars' key only for a Worker on this machine
  key = values.key ?? adminKey(worker.base, "--url");
} catch (e) {
  console.error(`${(e as Error).message}, or pass --key`);
  process.exit(2);
}
let bar: Progress | null = null;
try {
  const summary = await importLog({
    data: values.data,
    url: worker.base,
    adminKey: key,
    concurrency: values.concurrency,
    checkpoint: values.checkpoint,
    dateOrder: values["date-order"],
    log: (m) => console.error(`[import] ${m}`),
    // a Worker not running, or refusing the key, said at once rather than after a batch's retries
    beforeSending: () => checkAdminAccess(worker.base, key),
    onProgress: (done, total) => {
      bar ??= new Progress(total, "import");
      bar.to(done, `${done}/${total} batches sent`);
    },
  });
  console.log(JSON.stringify(summary, null, 2));
} catch (e) {
  // the file's problem, or the Worker's: nothing was sent, and rerunning as it is changes nothing
  if (e instanceof NothingSentError) console.error(`import failed: ${e.message}`);
  else console.error(`\nimport failed: ${(e as Error).message} (rerun the same command to resume)`);
  process.exit(1);
}
