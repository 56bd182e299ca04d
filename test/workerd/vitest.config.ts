/**
 * Integration tests inside workerd (@cloudflare/vitest-pool-workers): the real Worker, real KV under
 * miniflare, real onnxruntime-web. Importing ORT's 14 MB wasm costs ~10 s per test file, so ORT tests
 * are kept in few files.
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY, TEST_TOKEN_SECRET } from "./fixture.ts";

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
        },
      },
    }),
  ],
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/workerd/**/*.test.ts"],
    globalSetup: ["test/workerd/global-setup.ts"],
    testTimeout: 60_000,
    silent: "passed-only",
    hookTimeout: 180_000,
  },
});
