/**
 * Reads and validates a user's profile (real-time state) and, in parallel, the active model's features
 * for them. Never throws: a result says what went wrong.
 */
import { kvKeys } from "../../core/kv-keys";
import { type Profile, parseProfile, type UserFeatures, UserFeaturesSchema } from "../../core/profile";
import { errorMessage, logEvent } from "../lib/log";

export type ProfileRead =
  | { ok: true; profile: Profile }
  | { ok: false; reason: "profile-missing" | "profile-invalid" | "kv-error" };

export async function readProfile(kv: KVNamespace, userId: string): Promise<ProfileRead> {
  let raw: string | null;
  try {
    raw = await kv.get(kvKeys.profile(userId), "text");
  } catch (e) {
    logEvent("error", "profile.read_failed", { detail: errorMessage(e) });
    return { ok: false, reason: "kv-error" };
  }
  if (raw === null) return { ok: false, reason: "profile-missing" };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    logEvent("error", "profile.invalid", { detail: "not JSON" });
    return { ok: false, reason: "profile-invalid" };
  }
  const parsed = parseProfile(json);
  if (!parsed.ok) {
    logEvent("error", "profile.invalid", { detail: parsed.error.slice(0, 300) });
    return { ok: false, reason: "profile-invalid" };
  }
  return parsed;
}

/** The model version's features for a user, or null (missing, unreadable, or KV failing: logged). */
export async function readFeatures(kv: KVNamespace, userId: string, version: string): Promise<UserFeatures | null> {
  try {
    const parsed = UserFeaturesSchema.safeParse(await kv.get(kvKeys.features(userId, version), "json"));
    return parsed.success ? parsed.data : null;
  } catch (e) {
    logEvent("error", "features.read_failed", { detail: errorMessage(e) });
    return null;
  }
}

export async function readUser(kv: KVNamespace, userId: string, version: string) {
  const [profile, features] = await Promise.all([readProfile(kv, userId), readFeatures(kv, userId, version)]);
  return { profile, features };
}
