/**
 * The placeholders `.dev.vars.example` ships for secrets and keys ("replace-with-a-long-random-string"): long enough
 * to pass as keys, and public. The Worker ignores one (worker/env.ts); `npm start` replaces one in `.dev.vars` with a
 * random value (scripts/lib/dev-vars.ts).
 */
export const isPlaceholderSecret = (value: string): boolean => /^replace-with-/i.test(value.trim());
