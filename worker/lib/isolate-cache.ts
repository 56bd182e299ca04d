/**
 * A per-isolate cache of the KV reads an open makes for settings (campaigns, the experiment running on a campaign,
 * the global holdout). An entry serves for `ttlMs`. A read that fails (KV down, past its deadline) keeps what the
 * isolate had, stale, and is tried again RETRY_AFTER_FAILURE_MS later: a marketer's exclusions, an experiment's arms
 * and the holdout's readers stay as they were through an outage, instead of the defaults for a whole `ttlMs`. With
 * nothing kept, the read's fallback serves, for that short while only. At most `max` entries: the oldest goes first.
 *
 * A read in flight is shared: the opens a cold isolate takes at once read a campaign once, not each. It belongs to the
 * request that started it, whose reads never settle if that request is cancelled (a mail proxy dropping one image of a
 * row), so a request that joins it waits SHARE_WAIT_MS at most, then reads for itself (as block-memo.ts shares a
 * ranking). A shared read that failed answers its joiners as its own request: the last value kept, else the fallback
 * (KV failing now, a read of their own would wait its deadline again). A read in flight when its key is deleted (a
 * campaign just written here) is not kept, nor joined.
 */
import { within } from "./within";

/** How long after a failed read the next open reads again. */
export const RETRY_AFTER_FAILURE_MS = 5_000;
/** How long a request waits for a read another request has in flight before it reads for itself. */
export const SHARE_WAIT_MS = 1_500;

/** What a read gave: the value, or (it failed) what to serve when the isolate has nothing kept. */
export type CacheRead<T> = { ok: true; value: T } | { ok: false; fallback: T };

interface Entry<T> {
  value: T;
  /** until when it serves without a read */
  until: number;
  /** when it was read (a clock moved back re-reads) */
  at: number;
}

interface Pending<T> {
  read: Promise<CacheRead<T>>;
  /** when it began: one begun SHARE_WAIT_MS ago or more is not joined (its request may be gone) */
  at: number;
  /** false once its key was deleted: what it reads is not kept */
  keep: boolean;
}

export class IsolateCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #pending = new Map<string, Pending<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  /** The cached value of `key`, or `read`'s (a failed read: the last value kept, else its fallback). */
  async get(key: string, now: number, read: () => Promise<CacheRead<T>>): Promise<T> {
    const hit = this.#entries.get(key);
    if (hit && now >= hit.at && now < hit.until) return hit.value;
    const shared = this.#pending.get(key);
    if (shared && now >= shared.at && now - shared.at < SHARE_WAIT_MS) {
      // another request's read, at most SHARE_WAIT_MS of this one's time; a failed one answers as it answers its own
      // request (KV failing now, a second read would wait its deadline again): only one that threw is read again
      const got = await within(
        shared.read.catch(() => null),
        SHARE_WAIT_MS,
        () => null,
      );
      if (got) return this.#keep(key, now, hit, got, shared.keep);
    }
    const mine: Pending<T> = { read: read(), at: now, keep: true };
    this.#pending.set(key, mine);
    let got: CacheRead<T>;
    try {
      got = await mine.read;
    } finally {
      if (this.#pending.get(key) === mine) this.#pending.delete(key);
    }
    return this.#keep(key, now, hit, got, mine.keep);
  }

  /** What a read gave, kept (`store`) as the entry of `key`; `hit` the entry there was when the read began. */
  #keep(key: string, now: number, hit: Entry<T> | undefined, got: CacheRead<T>, store: boolean): T {
    // what the cache holds now: a read that overlapped this one may have stored a newer answer meanwhile
    const current = this.#entries.get(key);
    if (!got.ok && current && current !== hit) return current.value;
    const kept = got.ok ? got.value : current ? current.value : got.fallback;
    if (!store) return kept;
    const until = now + (got.ok ? this.ttlMs : RETRY_AFTER_FAILURE_MS);
    this.#entries.delete(key);
    this.#entries.set(key, { value: kept, until, at: now });
    if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    return kept;
  }

  delete(key: string): void {
    this.#entries.delete(key);
    const pending = this.#pending.get(key);
    if (pending) pending.keep = false;
    this.#pending.delete(key);
  }

  clear(): void {
    this.#entries.clear();
    for (const pending of this.#pending.values()) pending.keep = false;
    this.#pending.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
