/**
 * Integration tests inside workerd (@cloudflare/vitest-pool-workers): the real Worker, real KV under
 * miniflare, real onnxruntime-web. Importing ORT's 14 MB wasm costs ~10 s per test file, so ORT tests
 * are kept in few files.
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { unstable_readConfig } from "wrangler";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY, TEST_TOKEN_SECRET, TEST_WEBHOOK_SECRET } from "./fixture.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** wrangler.toml's [vars] as wrangler reads them: what `wrangler deploy` ships (no .dev.vars, no test bindings) */
    deployedVars: Record<string, unknown>;
    /** the dead-letter queue consumer's max_retries in wrangler.toml (worker/events/dead-letters.ts keeps a copy) */
    deadLetterMaxRetries: number | undefined;
  }
}

const deployed = unstable_readConfig({ config: new URL("../../wrangler.toml", import.meta.url).pathname });
const deployedVars = deployed.vars;
const deadLetterMaxRetries = deployed.queues.consumers?.find(
  (c: { queue: string }) => c.queue === "opentime-events-dlq",
)?.max_retries;

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TOKEN_SECRET: TEST_TOKEN_SECRET,
          MODEL_REFRESH_SECONDS: "1",
          EVENTS_API_KEYS: TEST_EVENTS_KEY,
          ADMIN_API_KEYS: TEST_ADMIN_KEY,
          TRIGGER_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
          // local development's setting (`.dev.vars`); wrangler.toml, what deploys, has no demo routes
          DEMO_ROUTES: "true",
        },
      },
    }),
  ],
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/workerd/**/*.test.ts"],
    globalSetup: ["test/workerd/global-setup.ts"],
    provide: { deployedVars, deadLetterMaxRetries },
    testTimeout: 60_000,
    silent: "passed-only",
    hookTimeout: 180_000,
  },
});
