/**
 * Erasure (right to be forgotten) and the decisions of readers who turned tracking off. A tombstone keyed by
 * a hash of the user id (core/erasure-key.ts, never the id itself, no secret: it survives TOKEN_SECRET
 * rotation) lives ERASURE_TOMBSTONE_DAYS (longer than any token): opens, clicks and events of the reader then
 * record nothing, and `npm run seed` skips them. Only the user's own keys are touched: user ids may contain
 * ':', so a prefix listing is filtered by isOwnKey. A Worker invocation may make 1,000 KV operations, and a reader
 * of many daily campaigns can hold more decisions than that: deletions spend a KvBudget, and what is left over is
 * the shard's sweeps' to delete (worker/state/decision-sweeps.ts), a budget at each of its alarm runs.
 */
import { erasureHash, erasureKey } from "../../core/erasure-key";
import { isOwnKey, kvKeys } from "../../core/kv-keys";

const DAY_SECONDS = 86400;

/** KV operations an erasure spends at most (of an invocation's 1,000; the rest is the request's other work). */
export const ERASURE_KV_OPS = 900;

/** KV operations left to spend in one invocation; taken synchronously, so concurrent deletions share it. */
export class KvBudget {
  constructor(public left: number) {}
  /** Up to `n` operations: as many as are left. */
  take(n: number): number {
    const got = Math.max(0, Math.min(n, this.left));
    this.left -= got;
    return got;
  }
}

/** What a bounded deletion did: keys deleted, and own keys it found but left (the budget ran out). */
export interface Deleted {
  deleted: number;
  pending: number;
}

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

/**
 * The keys under `prefix` that belong to the user (not to a user whose id extends theirs: `own` is the user's own
 * prefix, `prefix` itself unless it lists a part of theirs), one operation of the budget a page (unbounded by
 * default); `complete` is false when it ran out before the last page.
 */
export async function listOwnKeys(
  kv: KVNamespace,
  prefix: string,
  budget = new KvBudget(Number.POSITIVE_INFINITY),
  own = prefix,
): Promise<{ keys: string[]; complete: boolean }> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    if (budget.take(1) === 0) return { keys, complete: false };
    const page = await kv.list({ prefix, ...(cursor ? { cursor } : {}) });
    keys.push(...page.keys.map((k) => k.name).filter((name) => isOwnKey(own, name)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return { keys, complete: true };
}

/** Deletes `keys` as far as the budget goes (one operation each); the rest are pending. */
async function deleteWithin(kv: KVNamespace, keys: readonly string[], budget: KvBudget): Promise<Deleted> {
  const n = budget.take(keys.length);
  await Promise.all(keys.slice(0, n).map((k) => kv.delete(k)));
  return { deleted: n, pending: keys.length - n };
}

/**
 * Deletes the keys under `prefix` that belong to the user (listOwnKeys, `own` as there), as far as the budget goes;
 * a listing cut short counts one more pending (there are more than it saw).
 */
export async function deleteOwnKeys(kv: KVNamespace, prefix: string, budget: KvBudget, own = prefix): Promise<Deleted> {
  const { keys, complete } = await listOwnKeys(kv, prefix, budget, own);
  const done = await deleteWithin(kv, keys, budget);
  return complete ? done : { ...done, pending: done.pending + 1 };
}

/** Deletes the reader's snapshot (`profile:`) and seen ids (`seen:`), as far as the budget goes. */
export function deleteSnapshot(kv: KVNamespace, userId: string, budget: KvBudget): Promise<Deleted> {
  return deleteWithin(kv, [kvKeys.profile(userId), kvKeys.seen(userId)], budget);
}

/** Writes the edge's tombstone (`hash`: the reader's erasure hash) for `ttlSeconds` (KV keeps one 60 s at least). */
export async function writeTombstone(kv: KVNamespace, hash: string, ttlSeconds: number): Promise<void> {
  await kv.put(kvKeys.erasure(hash), "1", { expirationTtl: Math.max(60, Math.round(ttlSeconds)) });
}

/** Deletes the reader's stored open-time decisions (they name what was shown to whom), as far as the budget goes. */
export function deleteDecisions(kv: KVNamespace, userId: string, budget: KvBudget): Promise<Deleted> {
  return deleteOwnKeys(kv, kvKeys.decisionsPrefix(userId), budget);
}

/**
 * Erases a user: the tombstone first (for `tombstoneDays`: events still queued, later opens and clicks then
 * record nothing), then the profile, seen ids, model features and decisions, within `budget` KV operations.
 * Decisions past it are `pending`: the shard's sweeps, queued by the erasure, delete them in the minutes after.
 */
export async function eraseUser(
  kv: KVNamespace,
  userId: string,
  tombstoneDays: number,
  budget = new KvBudget(ERASURE_KV_OPS),
): Promise<Deleted> {
  budget.take(1);
  await writeTombstone(kv, await erasureHash(userId), tombstoneDays * DAY_SECONDS);
  // the profile, seen ids and features first: a few keys; then as many decisions as the budget leaves
  const first = await deleteSnapshot(kv, userId, budget);
  const features = await deleteOwnKeys(kv, kvKeys.featuresPrefix(userId), budget);
  const decisions = await deleteDecisions(kv, userId, budget);
  return {
    deleted: first.deleted + features.deleted + decisions.deleted,
    pending: first.pending + features.pending + decisions.pending,
  };
}
