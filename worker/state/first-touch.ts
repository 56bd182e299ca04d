/**
 * What a reader shard needs of readers it has never written, before its transaction: their state from before
 * this writer (`profile:<user>` and `seen:<user>` in KV, imported once so that upgrading loses nothing) and
 * whether their erasure tombstone stands at the edge (the current key and the legacy ones). Read in bulk: one
 * KV get of up to 100 keys for many readers (bulkGetText), instead of four gets each.
 */
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile, type Profile, parseProfile, salvageProfile } from "../../core/profile";
import { tombstoneKeys } from "../events/erasure";
import { bulkGetText } from "../lib/kv-bulk";

/** A reader's state from before this writer. */
export interface Imported {
  profile: Profile;
  seen: string[];
}

export interface FirstTouch {
  /** their KV-era state, or null: none */
  imported: Imported | null;
  /** a tombstone stands in KV (an erasure the edge wrote) */
  erasedAtEdge: boolean;
}

/** Reads the first touch of `readers` (each with their erasure hash, core/erasure-key.ts). Throws when KV does. */
export async function readFirstTouch(
  kv: KVNamespace,
  readers: readonly { user: string; hash: string }[],
  tokenSecrets: readonly string[],
): Promise<Map<string, FirstTouch>> {
  const keysOf = await Promise.all(
    readers.map(async ({ user, hash }) => ({
      user,
      profile: kvKeys.profile(user),
      seen: kvKeys.seen(user),
      tombstones: await tombstoneKeys(user, tokenSecrets, hash),
    })),
  );
  const values = await bulkGetText(
    kv,
    keysOf.flatMap((k) => [k.profile, k.seen, ...k.tombstones]),
  );
  const nowIso = new Date().toISOString();
  const out = new Map<string, FirstTouch>();
  for (const k of keysOf) {
    out.set(k.user, {
      imported: imported(k.user, values.get(k.profile) ?? null, values.get(k.seen) ?? null, nowIso),
      erasedAtEdge: k.tombstones.some((t) => values.get(t) != null),
    });
  }
  return out;
}

/** The KV-era state from its stored text: a profile that fails its schema is salvaged, field by field. */
function imported(user: string, profileText: string | null, seenText: string | null, nowIso: string): Imported | null {
  if (profileText === null && seenText === null) return null;
  const raw = profileText === null ? null : parseJson(profileText);
  const parsed = raw === null ? null : parseProfile(raw);
  // (a profile that is not JSON at all is salvaged too: its consent unknown, personalization and tracking off)
  const profile = parsed?.ok
    ? parsed.profile
    : profileText === null
      ? emptyProfile(user, nowIso)
      : salvageProfile(raw, user, nowIso).profile;
  const seen = seenText === null ? null : parseJson(seenText);
  const ids = Array.isArray(seen) ? seen.filter((x): x is string => typeof x === "string") : [];
  return { profile, seen: [...new Set([...ids, ...profile.seenEvents])] };
}

/** JSON text as a value; text that is not JSON reads as null (nothing salvageable). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
