/**
 * What may be used of one reader outside an open (subject lines, send times): their profile snapshot and the
 * model's features, when they are not erased (known not to be: an unreadable tombstone counts as erased) and
 * allow personalization; otherwise nothing. The same rules as an open's ranking (worker/recs/recommend.ts): with no
 * model serving (`version` null), their profile alone, none of a model's outputs (as the open's conditions see them).
 */
import { emptyProfile, modelOutputs, NO_MODEL_OUTPUTS } from "../../core/profile";
import type { Config } from "../env";
import { hasLegacyTombstone, hasTombstone } from "../events/erasure";
import { readProfile, readUser } from "../profile/profile-store";
import type { ReaderView } from "./reader-facts";

export async function knownReader(
  kv: KVNamespace,
  config: Config,
  user: string,
  version: string | null,
  now: number,
): Promise<ReaderView | undefined> {
  const [read, erased] = await Promise.all([
    version === null
      ? readProfile(kv, user).then((profile) => ({ profile, features: null }))
      : readUser(kv, user, version),
    hasTombstone(kv, user).catch(() => null),
  ]);
  const missing = !read.profile.ok && read.profile.reason === "profile-missing";
  const gone =
    erased === false && missing ? await hasLegacyTombstone(kv, user, config.tokenSecrets).catch(() => null) : erased;
  if (gone !== false) return undefined;
  if (!read.profile.ok && (!missing || !read.features)) return undefined;
  const profile = read.profile.ok ? read.profile.profile : emptyProfile(user, new Date(now).toISOString());
  if (!profile.consent.personalization) return undefined;
  if (version === null) return { profile, outputs: NO_MODEL_OUTPUTS };
  return { profile, outputs: modelOutputs(read.profile.ok ? profile : null, read.features, version) };
}
