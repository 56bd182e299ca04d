/**
 * A per-isolate cache of the KV reads an open makes for settings (campaigns, the experiment running on a campaign,
 * the global holdout). An entry serves for `ttlMs`. A read that fails (KV down, past its deadline) keeps what the
 * isolate had, stale, and is tried again RETRY_AFTER_FAILURE_MS later: a marketer's exclusions, an experiment's arms
 * and the holdout's readers stay as they were through an outage, instead of the defaults for a whole `ttlMs`. With
 * nothing kept, the read's fallback serves, for that short while only. At most `max` entries: the oldest goes first.
 */

/** How long after a failed read the next open reads again. */
export const RETRY_AFTER_FAILURE_MS = 5_000;

/** What a read gave: the value, or (it failed) what to serve when the isolate has nothing kept. */
export type CacheRead<T> = { ok: true; value: T } | { ok: false; fallback: T };

interface Entry<T> {
  value: T;
  /** until when it serves without a read */
  until: number;
  /** when it was read (a clock moved back re-reads) */
  at: number;
}

export class IsolateCache<T> {
  readonly #entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  /** The cached value of `key`, or `read`'s (a failed read: the last value kept, else its fallback). */
  async get(key: string, now: number, read: () => Promise<CacheRead<T>>): Promise<T> {
    const hit = this.#entries.get(key);
    if (hit && now >= hit.at && now < hit.until) return hit.value;
    const got = await read();
    // what the cache holds now: a read that overlapped this one may have stored a newer answer meanwhile
    const current = this.#entries.get(key);
    if (!got.ok && current && current !== hit) return current.value;
    const kept = got.ok ? got.value : current ? current.value : got.fallback;
    const until = now + (got.ok ? this.ttlMs : RETRY_AFTER_FAILURE_MS);
    this.#entries.delete(key);
    this.#entries.set(key, { value: kept, until, at: now });
    if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    return kept;
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
