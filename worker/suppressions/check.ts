/**
 * Which readers of a batch must not be mailed (core/suppressions.ts), read where every open reads them: each
 * reader's snapshot (`profile:<user>`, published by their shard about a second after it applies a change) and
 * their erasure tombstones (the current key and the legacy ones), in bulk KV reads of up to 100 keys. Throws when
 * KV does: the caller answers 503, and the builder builds nothing (it never guesses that a reader may be mailed).
 */
import { kvKeys } from "../../core/kv-keys";
import { type SuppressionReason, suppressionOf } from "../../core/suppressions";
import { tombstoneKeys } from "../events/erasure";
import { bulkGetText } from "../lib/kv-bulk";

export async function suppressedReaders(
  kv: KVNamespace,
  users: readonly string[],
  tokenSecrets: readonly string[],
  nowS: number,
): Promise<{ user: string; reason: SuppressionReason }[]> {
  const keysOf = await Promise.all(
    users.map(async (user) => ({
      user,
      snapshot: kvKeys.profile(user),
      tombstones: await tombstoneKeys(user, tokenSecrets),
    })),
  );
  const values = await bulkGetText(
    kv,
    keysOf.flatMap((k) => [k.snapshot, ...k.tombstones]),
  );
  const out: { user: string; reason: SuppressionReason }[] = [];
  for (const k of keysOf) {
    const erased = k.tombstones.some((t) => values.get(t) != null);
    const reason = suppressionOf(erased, values.get(k.snapshot) ?? null, nowS);
    if (reason) out.push({ user: k.user, reason });
  }
  return out;
}
