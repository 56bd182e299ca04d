/**
 * The workerd config with only the fuzz suite, and its settings from the environment (FUZZ_RUNS,
 * FUZZ_SEED, FUZZ_MODE, FUZZ_ROUTES) handed to the test through vitest's `provide`: `npm run fuzz`.
 */
import { defineConfig } from "vitest/config";
import type { FuzzSettings } from "./fuzz/settings.ts";
import base from "./vitest.config.ts";

const number = (raw: string | undefined) => (raw && Number.isFinite(Number(raw)) ? Number(raw) : undefined);
const fuzz: FuzzSettings = {
  runs: number(process.env.FUZZ_RUNS),
  seed: number(process.env.FUZZ_SEED),
  mode: process.env.FUZZ_MODE === "collect" ? "collect" : "assert",
  routes: process.env.FUZZ_ROUTES || undefined,
  figures: true,
};

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/workerd/fuzz.test.ts"],
    provide: { ...base.test?.provide, fuzz },
    silent: false,
    // a long run's routes take minutes each; the test sets its own timeouts from the run count
    testTimeout: 0,
  },
});
