/**
 * The placeholders `.dev.vars.example` ships for secrets and keys ("replace-with-a-long-random-string"): long enough
 * to pass as keys, and public. The Worker ignores one (worker/env.ts); `npm start` replaces one in `.dev.vars` with a
 * random value (scripts/lib/dev-vars.ts). A secret or key shorter than MIN_SECRET_LENGTH is ignored as well.
 */

/** The shortest secret or key the Worker takes (worker/env.ts); the CLIs refuse to sign with a shorter one. */
export const MIN_SECRET_LENGTH = 16;

export const isPlaceholderSecret = (value: string): boolean => /^replace-with-/i.test(value.trim());
