/**
 * A least-recently-used map bounded by total bytes (a Map keeps insertion order: the first key is the
 * oldest). Per-isolate caches of pictures and drawn cards use it. Caches that share one `BytePool` are bounded
 * together too: past the pool's budget, the least recently used entry of any of them goes first. With `maxAgeMs`,
 * an entry kept longer than that since it was set is gone however often it is used (a picture replaced at its URL
 * is fetched again: an isolate may live for days).
 */

/** A byte budget several ByteLru share (each keeps its own budget as well). */
export class BytePool {
  bytes = 0;
  private tick = 0;
  private readonly members = new Set<ByteLru<unknown>>();

  constructor(readonly budget: number) {}

  /** A use's place in the pool's order of recency. */
  next(): number {
    return ++this.tick;
  }

  join(lru: ByteLru<unknown>): void {
    this.members.add(lru);
  }

  /** Evicts the least recently used entries of the members until the pool is within its budget. */
  trim(): void {
    while (this.bytes > this.budget) {
      let oldest: ByteLru<unknown> | null = null;
      let at = Number.POSITIVE_INFINITY;
      for (const m of this.members) {
        const t = m.oldestUse();
        if (t !== null && t < at) {
          at = t;
          oldest = m;
        }
      }
      if (!oldest) return;
      oldest.evictOldest();
    }
  }
}

interface Entry<V> {
  value: V;
  size: number;
  /** when it was last used, in the pool's order (0 without a pool) */
  used: number;
  /** when it was set (ms) */
  setAt: number;
}

export class ByteLru<V> {
  private readonly map = new Map<string, Entry<V>>();
  private bytes = 0;

  constructor(
    private readonly budget: number,
    private readonly sizeOf: (value: V) => number,
    private readonly pool?: BytePool,
    private readonly maxAgeMs = Number.POSITIVE_INFINITY,
  ) {
    pool?.join(this as ByteLru<unknown>);
  }

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.map.get(key);
    if (entry !== undefined && now - entry.setAt >= this.maxAgeMs) {
      this.delete(key);
      return undefined;
    }
    if (entry !== undefined) {
      this.map.delete(key); // refresh its place
      entry.used = this.pool?.next() ?? 0;
      this.map.set(key, entry);
    }
    return entry?.value;
  }

  /** Values larger than a quarter of the budget are not kept (they would evict everything else). */
  set(key: string, value: V, now = Date.now()): void {
    const size = this.sizeOf(value);
    if (size > this.budget / 4) return;
    this.delete(key);
    this.map.set(key, { value, size, used: this.pool?.next() ?? 0, setAt: now });
    this.add(size);
    for (const k of this.map.keys()) {
      if (this.bytes <= this.budget) break;
      this.delete(k);
    }
    this.pool?.trim();
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.add(-old.size);
  }

  clear(): void {
    this.add(-this.bytes);
    this.map.clear();
  }

  /** When the least recently used entry was last used (the pool's order), or null when empty. */
  oldestUse(): number | null {
    for (const entry of this.map.values()) return entry.used;
    return null;
  }

  evictOldest(): void {
    const key = this.map.keys().next();
    if (!key.done) this.delete(key.value);
  }

  private add(size: number): void {
    this.bytes += size;
    if (this.pool) this.pool.bytes += size;
  }
}
