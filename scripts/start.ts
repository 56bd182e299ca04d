/**
 * `npm start`: the quick start. Generates the demo shop, trains and exports the model, seeds local KV,
 * renders a sample AMP email, then runs `wrangler dev` on 127.0.0.1:8787 (PORT=<n>: another port) and prints a
 * ready-to-curl URL.
 * `.dev.vars` (created, or completed when an older one lacks a line or holds a secret the Worker ignores) holds the
 * local secrets and DEMO_ROUTES="true": the demo shop and the preview page exist locally only, never in `wrangler
 * deploy`.
 * Each step is skipped when its output already exists (delete build/, models/ or .wrangler/ to redo one).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CampaignSchema } from "../core/campaign";
import { kvKeys } from "../core/kv-keys";
import { modelState } from "../core/model-versions";
import { mintToken } from "../core/token";
import { DEMO_CAMPAIGNS } from "./demo/campaigns";
import { ampBase, demoEmail } from "./demo/demo-email";
import { generateDemo } from "./demo/generate";
import { DEV_VARS, ensureDevVars } from "./lib/dev-vars";
import { portInUse } from "./lib/free-port";
import { portFromEnv } from "./lib/port-env";
import { allEntries, erasedTombstones, readModelArtifacts } from "./seed/kv-entries";
import { bulkPut, wranglerKv } from "./seed/wrangler-kv";
import { trainAndExport } from "./train/pipeline";

const HOST = "127.0.0.1";
// it takes no options: `--help` says so rather than building the demo and starting wrangler
if (process.argv.slice(2).some((a) => a === "--help" || a === "-h")) {
  console.log(
    "usage: npm start  (no options; PORT=<n> serves on another port, AMP_BASE_URL=https://<tunnel> for a real mailbox)",
  );
  process.exit(0);
}
// checked before anything is written or started: a bad PORT would fail only after the demo, the training and the seed
const port = portFromEnv(process.env.PORT);
if ("error" in port) {
  console.error(`[opentime] ${port.error}`);
  process.exit(1);
}
const PORT = port.port;
// and free: wrangler would find it taken only after the demo shop, the training and the seed
if (await portInUse(HOST, PORT)) {
  console.error(
    `[opentime] ${HOST}:${PORT} is in use (another npm start or npm run dev?): stop it, or give another port (PORT=${PORT === 8788 ? 8789 : 8788} npm start)`,
  );
  process.exit(1);
}
const DEMO_DIR = "build/demo";
const SEED_MARK = ".wrangler/opentime-seeded.json";
const DEMO_SENDER = "newsletter@shop.example";
const log = (m: string) => console.log(`\x1b[36m[opentime]\x1b[0m ${m}`);

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  log(`${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return out;
}

const started = performance.now();
const secret = ensureDevVars(DEV_VARS, log);

if (!existsSync(join(DEMO_DIR, "summary.json"))) {
  const s = await step("generated the demo shop", () => generateDemo(DEMO_DIR));
  log(`  ${s.products} products in ${s.categories} categories, ${s.customers} customers, ${s.events} events`);
} else log(`demo shop: reusing ${DEMO_DIR}`);

let modelDir: string | null = null;
if (existsSync("models/latest.json")) {
  const latest = JSON.parse(await readFile("models/latest.json", "utf8")) as { dir: string };
  if (existsSync(join(latest.dir, "manifest.json"))) modelDir = latest.dir;
}
if (!modelDir) {
  const res = await step("trained and exported the model", () =>
    trainAndExport({
      data: join(DEMO_DIR, "events.csv"),
      catalog: join(DEMO_DIR, "products.json"),
      out: "models",
      log: (m) => log(`  ${m}`),
    }),
  );
  modelDir = res.dir;
} else log(`model: reusing ${modelDir}`);

const artifacts = await readModelArtifacts(modelDir);
const version = artifacts.manifest.version;
const seeded = existsSync(SEED_MARK)
  ? (JSON.parse(await readFile(SEED_MARK, "utf8")) as { version: string }).version
  : null;
if (seeded !== version) {
  await step("seeded local KV (model, catalog, profiles)", async () => {
    // a first load writes profiles too; a later model only its features, never touching real-time state
    // a later model skips readers erased meanwhile (a first load has none: no state yet)
    const erased = seeded === null ? new Set<string>() : await erasedTombstones(wranglerKv());
    // a later model records the one it replaces (`npm run models -- rollback` returns to it)
    const state = seeded === null ? undefined : await modelState(wranglerKv());
    const { entries, profiles } = await allEntries(modelDir as string, seeded === null, erased, state);
    // demo campaigns for the preview page: `demo` keeps what the first open showed, `demo-live` re-decides,
    // `demo-blocks` serves a block by conditions on the reader and the open
    const campaigns = Object.entries(DEMO_CAMPAIGNS).map(([id, campaign]) => ({
      key: kvKeys.campaign(id),
      value: JSON.stringify(CampaignSchema.parse(campaign)),
    }));
    await bulkPut([...campaigns, ...entries]);
    await mkdir(".wrangler", { recursive: true });
    await writeFile(SEED_MARK, JSON.stringify({ version, profiles, at: new Date().toISOString() }));
  });
} else log(`local KV: already seeded with ${version}`);
/** a demo customer whose planted tastes (Mugs, Tableware, Cookware) make the answer easy to judge */
const demoUser = "c0000002";

const base = `http://${HOST}:${PORT}`;
const token = await mintToken(secret, { user: demoUser, campaign: "demo", ttlSeconds: 30 * 86400 });
const recsUrl = `${base}/v1/amp/recs?t=${token}&n=6`;
const amp = ampBase(process.env.AMP_BASE_URL);
if (amp.note) log(amp.note);
const email = await demoEmail({ localBase: base, ampBase: amp.base, token });
await mkdir("build/email", { recursive: true });
await Promise.all([
  writeFile("build/email/recs-email.amp.html", email.amp),
  writeFile("build/email/recs-email.html", email.html),
  writeFile("build/email/recs-email.txt", email.text),
]);
log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s; starting wrangler dev on ${base}`);
console.log(`
  Recommendations for demo user ${demoUser} (model ${version}):
    curl -s '${recsUrl}' \\
      -H 'AMP-Email-Sender: ${DEMO_SENDER}'

  Preview page (local only: DEMO_ROUTES from .dev.vars):  ${base}/
  Rendered email:  build/email/recs-email.html (open-time images, local) and build/email/recs-email.amp.html
    (the AMP part validates as AMP4EMAIL; AMP needs https, so it points at ${amp.base}:
    AMP_BASE_URL=https://<an https tunnel to ${HOST}:${PORT}> npm start writes it for a real mailbox)
  Another user's token: npm run token -- --user c0000042 --campaign demo
`);

// --test-scheduled: the Cron Triggers' jobs (bandits, drift) can be run by hand at /__scheduled (local only)
const child = spawn("npx", ["wrangler", "dev", "--ip", HOST, "--port", String(PORT), "--test-scheduled"], {
  stdio: "inherit",
});
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
