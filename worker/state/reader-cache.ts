/**
 * The readers a shard has touched lately, as it last committed them: saves the SELECT, the JSON parse and the
 * schema check of a profile on every batch. The shard is the only writer of these rows, so an entry is exact as
 * long as it is updated after each commit (never before: a rolled-back transaction leaves the entries as they
 * were) and dropped on erasure. Bounded by the profiles' JSON size; least recently used go first.
 */
import type { ConsentClock } from "../../core/apply-events";
import type { Profile } from "../../core/profile";

export interface CachedReader {
  profile: Profile;
  /** `profile` as stored (and published) */
  json: string;
  clock: ConsentClock;
  version: number;
  publishedVersion: number;
  publishedAt: number;
  /** their return after an erasure, as their row keeps it (tombstone-table.ts ReturnMark: ms), or null */
  returned: { at: number; until: number } | null;
}

/** Profiles' JSON kept per shard, in UTF-16 code units (a parsed profile takes a few times this in memory). */
export const READER_CACHE_CHARS = 2_000_000;

export class ReaderCache {
  private readonly entries = new Map<string, CachedReader>();
  private chars = 0;

  constructor(private readonly budget = READER_CACHE_CHARS) {}

  get(user: string): CachedReader | undefined {
    const entry = this.entries.get(user);
    if (entry) {
      // most recently used last
      this.entries.delete(user);
      this.entries.set(user, entry);
    }
    return entry;
  }

  set(user: string, entry: CachedReader): void {
    this.delete(user);
    this.entries.set(user, entry);
    this.chars += entry.json.length;
    for (const [oldest, old] of this.entries) {
      if (this.chars <= this.budget || oldest === user) break;
      this.entries.delete(oldest);
      this.chars -= old.json.length;
    }
  }

  delete(user: string): void {
    const entry = this.entries.get(user);
    if (!entry) return;
    this.entries.delete(user);
    this.chars -= entry.json.length;
  }

  /**
   * A snapshot write was tried at `at`: `version` landed, or (null) it failed. Recency is left alone. A version past
   * the entry's own is another row's (the reader erased and back during the write: their row, and its versions,
   * began again), and counts for nothing here.
   */
  published(user: string, version: number | null, at: number): void {
    const entry = this.entries.get(user);
    if (!entry) return;
    if (version !== null && version <= entry.version)
      entry.publishedVersion = Math.max(entry.publishedVersion, version);
    entry.publishedAt = at;
  }

  get size(): number {
    return this.entries.size;
  }
}
