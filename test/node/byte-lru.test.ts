/**
 * The per-isolate byte caches (worker/lib/byte-lru.ts): each keeps to its own budget, least recently used first,
 * and caches sharing a pool keep to the pool's too, evicting the least recently used entry of any of them.
 */
import { describe, expect, it } from "vitest";
import { ByteLru, BytePool } from "../../worker/lib/byte-lru";

const bytes = (n: number) => new Uint8Array(n);
const size = (b: Uint8Array) => b.byteLength;
const keys = (lru: ByteLru<Uint8Array>, all: string[]) => all.filter((k) => lru.get(k) !== undefined);

describe("ByteLru", () => {
  it("keeps to its budget, the least recently used going first; a value over a quarter of it is not kept", () => {
    const lru = new ByteLru(100, size);
    for (const k of ["a", "b", "c", "d"]) lru.set(k, bytes(25));
    lru.get("a");
    lru.set("e", bytes(25));
    // b was the least recently used: a was read after it
    expect(lru.get("b")).toBeUndefined();
    expect(lru.get("a")?.byteLength).toBe(25);
    lru.set("big", bytes(26));
    expect(lru.get("big")).toBeUndefined();
  });

  it("with a max age, an entry set longer ago is gone however often it was used, and its bytes freed", () => {
    const pool = new BytePool(200);
    const lru = new ByteLru(200, size, pool, 3_600_000);
    const t0 = 1_000_000;
    lru.set("photo", bytes(30), t0);
    lru.set("other", bytes(30), t0 + 1_800_000);
    for (let m = 0; m < 59; m++) expect(lru.get("photo", t0 + m * 60_000)?.byteLength).toBe(30);
    expect(lru.get("photo", t0 + 3_600_000)).toBeUndefined();
    expect(pool.bytes).toBe(30);
    expect(lru.get("other", t0 + 3_600_000)?.byteLength).toBe(30);
    // set again, it counts from then
    lru.set("photo", bytes(30), t0 + 3_600_000);
    expect(lru.get("photo", t0 + 7_100_000)?.byteLength).toBe(30);
  });

  it("caches sharing a pool keep to it together: the least recently used entry of either goes first", () => {
    const pool = new BytePool(100);
    const cards = new ByteLru(80, size, pool);
    const pictures = new ByteLru(80, size, pool);
    cards.set("c1", bytes(20));
    pictures.set("p1", bytes(20));
    cards.set("c2", bytes(20));
    pictures.set("p2", bytes(20));
    cards.get("c1");
    expect(pool.bytes).toBe(80);
    // 100 bytes in the pool: the next entries evict the pool's least recently used, p1 then c2 (c1 was read since)
    cards.set("c3", bytes(20));
    pictures.set("p3", bytes(20));
    cards.set("c4", bytes(20));
    expect(pool.bytes).toBe(100);
    expect(keys(pictures, ["p1", "p2", "p3"])).toEqual(["p2", "p3"]);
    expect(keys(cards, ["c1", "c2", "c3", "c4"])).toEqual(["c1", "c3", "c4"]);
    // each within its own budget as well: five cards of 20 pass the cards' 80, and their own oldest goes
    const solo = new ByteLru(80, size, new BytePool(1000));
    for (const k of ["s1", "s2", "s3", "s4", "s5"]) solo.set(k, bytes(20));
    expect(keys(solo, ["s1", "s2", "s3", "s4", "s5"])).toEqual(["s2", "s3", "s4", "s5"]);
    // a cleared cache gives its bytes back to the pool
    pictures.clear();
    expect(pool.bytes).toBe(60);
  });
});
