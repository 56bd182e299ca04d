/**
 * User profile as stored in KV under `profile:<userId>`. Versioned: `v` is the schema version, and
 * `parseProfile` migrates older versions forward (none yet). Holds no PII: ids are pseudonymous.
 */
import { z } from "zod";

export const PROFILE_SCHEMA_VERSION = 1;
/** Bound on stored recent purchases, newest first. */
export const MAX_RECENT_PURCHASES = 50;

export const ProfileV1Schema = z.object({
  v: z.literal(1),
  userId: z.string().min(1),
  /** ISO time of the last write */
  updatedAt: z.string(),
  /** the user's factor vector, valid only for the named model version */
  factors: z
    .object({
      model: z.string(),
      /** base64 of little-endian float32 values */
      vector: z.string(),
    })
    .nullable(),
  /** newest first, bounded by MAX_RECENT_PURCHASES */
  recentPurchases: z.array(z.object({ item: z.string(), ts: z.number().int() })).max(MAX_RECENT_PURCHASES),
});
export type Profile = z.infer<typeof ProfileV1Schema>;

export type ProfileParse = { ok: true; profile: Profile } | { ok: false; error: string };

/** Validates a stored profile (after JSON.parse); older schema versions are migrated here. */
export function parseProfile(raw: unknown): ProfileParse {
  const res = ProfileV1Schema.safeParse(raw);
  if (res.success) return { ok: true, profile: res.data };
  return { ok: false, error: res.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") };
}
