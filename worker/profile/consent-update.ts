/** Applies a consent change to a user's profile (creating a minimal profile for an unknown user). */
import { kvKeys } from "../../core/kv-keys";
import { type Consent, emptyProfile, parseProfile } from "../../core/profile";
import { ApiError } from "../errors";

export async function updateConsent(kv: KVNamespace, userId: string, change: Partial<Consent>): Promise<Consent> {
  const raw = await kv.get(kvKeys.profile(userId), "json");
  const now = new Date();
  let profile = emptyProfile(userId, now.toISOString());
  if (raw !== null) {
    const parsed = parseProfile(raw);
    if (!parsed.ok) throw new ApiError("INTERNAL", "the stored profile cannot be read; consent not changed");
    profile = parsed.profile;
  }
  profile.consent = { ...profile.consent, ...change, updatedAt: Math.floor(now.getTime() / 1000) };
  profile.updatedAt = now.toISOString();
  await kv.put(kvKeys.profile(userId), JSON.stringify(profile));
  return profile.consent;
}
