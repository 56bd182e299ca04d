/** Unit and pipeline tests that run in Node (trainers, kernel parity with ORT, tokens, AMP validation). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    // one temporary directory per run, removed at its end (support/temp-root.ts)
    globalSetup: ["test/node/support/temp-root.ts"],
    testTimeout: 120_000,
    silent: "passed-only",
    hookTimeout: 180_000,
  },
});
