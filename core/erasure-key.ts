/**
 * The KV key of an erased reader's tombstone: `erased:<hex SHA-256 of "opentime-erasure:" + user id>`.
 *
 * A plain hash, with no secret, is acceptable here: user ids are already pseudonymous (email-shaped ids are
 * refused), so the hash only keeps the id itself out of the key; and the tombstone must outlive a
 * TOKEN_SECRET rotation and be computable by `npm run seed` (which skips erased readers) without the secret.
 * WebCrypto: the same in Workers and Node 20.
 */
import { kvKeys } from "./kv-keys";

/**
 * How long an erased reader's tombstone stands by default (ERASURE_TOMBSTONE_DAYS): longer than the tokens
 * `npm run email` and `npm run token` mint by default (30 days), which must expire before it ends.
 */
export const DEFAULT_ERASURE_TOMBSTONE_DAYS = 45;

/** Separates this hash from any other SHA-256 of a user id. */
const DOMAIN = "opentime-erasure:";

export async function erasureHash(userId: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(DOMAIN + userId));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `erased:<hash>`: the reader's tombstone key. */
export async function erasureKey(userId: string): Promise<string> {
  return kvKeys.erasure(await erasureHash(userId));
}
