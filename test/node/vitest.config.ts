/** Unit and pipeline tests that run in Node (trainers, kernel parity with ORT, tokens, AMP validation). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    silent: "passed-only",
    hookTimeout: 180_000,
  },
});
