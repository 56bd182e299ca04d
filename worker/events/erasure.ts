/**
 * Erasure (right to be forgotten) and the decisions of readers who turned tracking off. A tombstone keyed by
 * a hash of the user id (core/erasure-key.ts, never the id itself, no secret: it survives TOKEN_SECRET
 * rotation) lives ERASURE_TOMBSTONE_DAYS (longer than any token): opens, clicks and events of the reader then
 * record nothing, and `npm run seed` skips them. Only the user's own keys are touched: user ids may contain
 * ':', so a prefix listing is filtered by isOwnKey.
 */
import { erasureKey } from "../../core/erasure-key";
import { isOwnKey, kvKeys } from "../../core/kv-keys";
import { bulkGetText } from "../lib/kv-bulk";

const DAY_SECONDS = 86400;

const legacyKeys = new Map<string, Promise<CryptoKey>>();

/**
 * Transition: tombstones written before core/erasure-key.ts were keyed by HMAC(TOKEN_SECRET of the time, id),
 * and lived the ERASURE_TOMBSTONE_DAYS of the time (default 7, at most 365). They are still read, with the
 * current and previous secrets, so nothing erased comes back; remove this once they have all expired.
 */
async function legacyErasureKey(secret: string, userId: string): Promise<string> {
  const secretKey = secret || "opentime";
  let key = legacyKeys.get(secretKey);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secretKey),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    legacyKeys.set(secretKey, key);
  }
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", await key, new TextEncoder().encode(`erasure:${userId}`)),
  );
  return kvKeys.erasure(Array.from(mac.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join(""));
}

/** Whether the reader's tombstone (core/erasure-key.ts) stands: one KV read. Throws when KV does. */
export async function hasTombstone(kv: KVNamespace, userId: string): Promise<boolean> {
  return (await kv.get(await erasureKey(userId))) !== null;
}

/**
 * Whether a legacy tombstone stands under one of `tokenSecrets` (the config's current and previous
 * TOKEN_SECRET; none: the old code's default). Such a reader's profile was deleted with it, so the open path
 * asks only for readers without a profile. Throws when KV does.
 */
export async function hasLegacyTombstone(
  kv: KVNamespace,
  userId: string,
  tokenSecrets: readonly string[] = [],
): Promise<boolean> {
  const keys = await legacyErasureKeys(userId, tokenSecrets);
  const values = await Promise.all(keys.map((k) => kv.get(k)));
  return values.some((v) => v !== null);
}

/** The keys a legacy tombstone of the reader may have: one per secret of `tokenSecrets` (none: the old default). */
export function legacyErasureKeys(userId: string, tokenSecrets: readonly string[] = []): Promise<string[]> {
  const secrets = tokenSecrets.length > 0 ? tokenSecrets : [""];
  return Promise.all(secrets.map((s) => legacyErasureKey(s, userId)));
}

/**
 * Every KV key a tombstone of the reader may have: the current one (core/erasure-key.ts; `hash`: their erasure
 * hash, when the caller has it) and the legacy ones.
 */
export async function tombstoneKeys(
  userId: string,
  tokenSecrets: readonly string[] = [],
  hash?: string,
): Promise<string[]> {
  const current = hash === undefined ? await erasureKey(userId) : kvKeys.erasure(hash);
  return [current, ...(await legacyErasureKeys(userId, tokenSecrets))];
}

/** The readers of `users` who were erased (their tombstone or a legacy one), in bulk reads. Throws when KV does. */
export async function erasedOf(
  kv: KVNamespace,
  users: readonly string[],
  tokenSecrets: readonly string[] = [],
): Promise<Set<string>> {
  const keysOf = await Promise.all(
    users.map(async (user) => ({ user, keys: await tombstoneKeys(user, tokenSecrets) })),
  );
  const values = await bulkGetText(
    kv,
    keysOf.flatMap((k) => k.keys),
  );
  return new Set(keysOf.filter((k) => k.keys.some((key) => values.get(key) != null)).map((k) => k.user));
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

/** Deletes every key under `prefix` that belongs to the user (listOwnKeys). Returns how many. */
export async function deleteOwnKeys(kv: KVNamespace, prefix: string): Promise<number> {
  const keys = await listOwnKeys(kv, prefix);
  await Promise.all(keys.map((k) => kv.delete(k)));
  return keys.length;
}

/** Deletes the reader's stored open-time decisions (they name what was shown to whom). Returns how many. */
export function deleteDecisions(kv: KVNamespace, userId: string): Promise<number> {
  return deleteOwnKeys(kv, kvKeys.decisionsPrefix(userId));
}

/**
 * Erases a user: the tombstone first (for `tombstoneDays`: events still queued, later opens and clicks then
 * record nothing), then the profile, seen ids, model features and decisions. Returns the number of keys deleted.
 */
export async function eraseUser(kv: KVNamespace, userId: string, tombstoneDays: number): Promise<number> {
  await kv.put(await erasureKey(userId), "1", { expirationTtl: Math.round(tombstoneDays * DAY_SECONDS) });
  const keys = [kvKeys.profile(userId), kvKeys.seen(userId)];
  for (const prefix of [kvKeys.decisionsPrefix(userId), kvKeys.featuresPrefix(userId)]) {
    keys.push(...(await listOwnKeys(kv, prefix)));
  }
  await Promise.all(keys.map((k) => kv.delete(k)));
  return keys.length;
}
