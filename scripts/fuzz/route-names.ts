/**
 * The routes the fuzz suite generates requests for (test/workerd/fuzz.test.ts, one generator each): the names
 * `npm run fuzz -- --routes` takes, checked before the run so a misspelt one is refused rather than fuzzing nothing.
 */
export const FUZZ_ROUTE_NAMES = [
  "campaigns",
  "amp-recs",
  "amp-preferences",
  "image",
  "click",
  "pixel",
  "events",
  "admin-events",
  "users",
  "other",
  "send-time",
] as const;

export type FuzzRouteName = (typeof FUZZ_ROUTE_NAMES)[number];
