// The shard's reader cache: least recently used readers leave first once the profiles' JSON exceeds its budget.
import { describe, expect, it } from "vitest";
import { emptyProfile } from "../../core/profile";
import { type CachedReader, ReaderCache } from "../../worker/state/reader-cache";

function reader(user: string, chars: number): CachedReader {
  const profile = emptyProfile(user, "2026-01-01T00:00:00.000Z");
  return {
    profile,
    json: "x".repeat(chars),
    clock: {},
    version: 1,
    publishedVersion: 0,
    publishedAt: 0,
    returned: null,
  };
}

describe("ReaderCache", () => {
  it("evicts the least recently used readers beyond its budget, never the one just set", () => {
    const cache = new ReaderCache(300);
    cache.set("a", reader("a", 100));
    cache.set("b", reader("b", 100));
    cache.set("c", reader("c", 100));
    cache.get("a"); // a is now the most recently used
    cache.set("d", reader("d", 100));
    expect(cache.get("b")).toBeUndefined();
    expect(["a", "c", "d"].map((u) => cache.get(u)?.profile.userId)).toEqual(["a", "c", "d"]);
    cache.set("big", reader("big", 1000));
    expect(cache.size).toBe(1);
    expect(cache.get("big")?.json.length).toBe(1000);
  });

  it("replacing a reader counts its size once; published() moves the state, not the recency", () => {
    const cache = new ReaderCache(250);
    cache.set("a", reader("a", 100));
    cache.set("a", reader("a", 100));
    cache.set("b", reader("b", 100));
    expect(cache.size).toBe(2);
    cache.published("a", 1, 5000);
    expect(cache.get("a")).toMatchObject({ publishedVersion: 1, publishedAt: 5000 });
    cache.published("a", null, 6000);
    expect(cache.get("a")).toMatchObject({ publishedVersion: 1, publishedAt: 6000 });
    cache.delete("a");
    cache.set("c", reader("c", 100));
    cache.set("d", reader("d", 50));
    expect(cache.size).toBe(3);
    // published() leaves recency alone: a, set first, is still the least recently used and leaves first
    const lru = new ReaderCache(250);
    lru.set("a", reader("a", 100));
    lru.set("b", reader("b", 100));
    lru.published("a", 1, 7000);
    lru.set("c", reader("c", 100));
    expect(lru.get("a")).toBeUndefined();
    expect(lru.get("b")?.profile.userId).toBe("b");
  });
});
