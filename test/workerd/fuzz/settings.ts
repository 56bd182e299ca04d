/**
 * The fuzz run's settings, given to the workerd test by vitest's `provide` (vitest.fuzz.config.ts sets
 * them from FUZZ_RUNS, FUZZ_SEED, FUZZ_MODE, FUZZ_ROUTES; `npm test` gives none: the defaults apply).
 */
export interface FuzzSettings {
  /** total generated requests over all routes */
  runs?: number;
  seed?: number;
  /** `assert`: stop a route at its first failure and shrink it; `collect`: run all, keep the smallest per rule */
  mode?: "assert" | "collect";
  /** only these routes (comma-separated) */
  routes?: string;
  /** print the FUZZ_FIGURES line */
  figures?: boolean;
}

export const DEFAULT_RUNS = 10_000;
export const DEFAULT_SEED = 20261130;

declare module "vitest" {
  export interface ProvidedContext {
    fuzz?: FuzzSettings;
  }
}
