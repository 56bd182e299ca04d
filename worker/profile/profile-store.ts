/** Reads and validates user profiles from KV; never throws (a result says what went wrong). */
import { kvKeys } from "../../core/kv-keys";
import { type Profile, parseProfile } from "../../core/profile";
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
