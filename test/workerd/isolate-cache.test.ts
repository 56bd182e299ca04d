/**
 * The opens' settings cache (worker/lib/isolate-cache.ts): a read in flight is shared by the requests that come
 * meanwhile (a cold isolate's first opens read a campaign once), a shared read that never settles (its request
 * cancelled) holds a joiner SHARE_WAIT_MS at most, one that fails answers its joiners as its own request, and a read in
 * flight when its key is deleted (a campaign just written) is neither kept nor joined.
 */
import { describe, expect, it } from "vitest";
import { type CacheRead, IsolateCache, SHARE_WAIT_MS } from "../../worker/lib/isolate-cache";

/** A read that settles when told to, counting the reads begun. */
function deferredReads() {
  const calls: ((r: CacheRead<string>) => void)[] = [];
  const read = () => new Promise<CacheRead<string>>((resolve) => calls.push(resolve));
  return { read, calls };
}

describe("the isolate's settings cache", () => {
  it("shares a read in flight: ten opens at once make one read", async () => {
    const cache = new IsolateCache<string>(60_000, 10);
    const { read, calls } = deferredReads();
    const now = Date.now();
    const opens = Array.from({ length: 10 }, () => cache.get("c", now, read));
    await Promise.resolve();
    expect(calls).toHaveLength(1);
    calls[0]?.({ ok: true, value: "v1" });
    expect(await Promise.all(opens)).toEqual(Array(10).fill("v1"));
    // then kept: no read for a minute
    expect(await cache.get("c", now + 1_000, read)).toBe("v1");
    expect(calls).toHaveLength(1);
  });

  it("a shared read that never settles holds a joiner SHARE_WAIT_MS at most, which then reads for itself", async () => {
    const cache = new IsolateCache<string>(60_000, 10);
    const now = Date.now();
    // the first request's read never settles (its request was cancelled)
    void cache.get("c", now, () => new Promise<CacheRead<string>>(() => {}));
    const started = Date.now();
    let own = 0;
    const value = await cache.get("c", now + 1, async () => {
      own++;
      return { ok: true, value: "own" };
    });
    expect(value).toBe("own");
    expect(own).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(SHARE_WAIT_MS - 50);
    // a read begun that long ago is not joined again
    let later = 0;
    cache.delete("c");
    void cache.get("c", now, () => new Promise<CacheRead<string>>(() => {}));
    expect(
      await cache.get("c", now + SHARE_WAIT_MS, async () => {
        later++;
        return { ok: true, value: "fresh" };
      }),
    ).toBe("fresh");
    expect(later).toBe(1);
  });

  it("a shared read that fails answers its joiners as it answers its own request: no second wait on a failing KV", async () => {
    const cache = new IsolateCache<string>(60_000, 10);
    const { read, calls } = deferredReads();
    const now = Date.now();
    const first = cache.get("c", now, read);
    const joined = cache.get("c", now + 1, read);
    await Promise.resolve();
    expect(calls).toHaveLength(1);
    calls[0]?.({ ok: false, fallback: "defaults" });
    // nothing kept yet: the fallback for both, and KV asked again RETRY_AFTER_FAILURE_MS later, not at once
    expect(await Promise.all([first, joined])).toEqual(["defaults", "defaults"]);
    expect(await cache.get("c", now + 2, read)).toBe("defaults");
    expect(calls).toHaveLength(1);
  });

  it("a read in flight when its key is deleted (a campaign just written) is neither kept nor joined", async () => {
    const cache = new IsolateCache<string>(60_000, 10);
    const { read, calls } = deferredReads();
    const now = Date.now();
    const before = cache.get("c", now, read);
    await Promise.resolve();
    cache.delete("c");
    // an open after the write reads anew, not the read begun before it
    const after = cache.get("c", now + 1, read);
    await Promise.resolve();
    expect(calls).toHaveLength(2);
    calls[1]?.({ ok: true, value: "new" });
    expect(await after).toBe("new");
    calls[0]?.({ ok: true, value: "old" });
    expect(await before).toBe("old");
    // the old read, settling last, did not replace the new value
    expect(await cache.get("c", now + 2, read)).toBe("new");
    expect(calls).toHaveLength(2);
  });
});
