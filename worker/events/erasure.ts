/**
 * Erasure (right to be forgotten) and the decisions of readers who turned tracking off. A tombstone keyed
 * by a keyed hash of the user id (never the id itself) makes the consumer drop events still queued.
 * Only the user's own keys are touched: user ids may contain ':', so a prefix listing is filtered by isOwnKey.
 */
import { isOwnKey, kvKeys } from "../../core/kv-keys";

export async function userHash(secret: string, userId: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret || "opentime"),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`erasure:${userId}`)));
  return Array.from(mac.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function isErased(kv: KVNamespace, secret: string, userId: string): Promise<boolean> {
  return (await kv.get(kvKeys.erasure(await userHash(secret, userId)))) !== null;
}

/** Every key under `prefix` that belongs to the user (not to a user whose id extends theirs). */
export async function listOwnKeys(kv: KVNamespace, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix, ...(cursor ? { cursor } : {}) });
    keys.push(...page.keys.map((k) => k.name).filter((name) => isOwnKey(prefix, name)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return keys;
}

/** Deletes the reader's stored open-time decisions (they name what was shown to whom). Returns how many. */
export async function deleteDecisions(kv: KVNamespace, userId: string): Promise<number> {
  const keys = await listOwnKeys(kv, kvKeys.decisionsPrefix(userId));
  await Promise.all(keys.map((k) => kv.delete(k)));
  return keys.length;
}

/**
 * Erases a user: the tombstone first (events still queued are then dropped), then the profile, seen ids,
 * model features and decisions. Returns the number of keys deleted.
 */
export async function eraseUser(
  kv: KVNamespace,
  secret: string,
  userId: string,
  tombstoneDays: number,
): Promise<number> {
  await kv.put(kvKeys.erasure(await userHash(secret, userId)), "1", { expirationTtl: tombstoneDays * 86400 });
  const keys = [kvKeys.profile(userId), kvKeys.seen(userId)];
  for (const prefix of [kvKeys.decisionsPrefix(userId), kvKeys.featuresPrefix(userId)]) {
    keys.push(...(await listOwnKeys(kv, prefix)));
  }
  await Promise.all(keys.map((k) => kv.delete(k)));
  return keys.length;
}
