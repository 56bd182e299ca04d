/**
 * The edge's reads of the live catalog (worker/catalog/live-catalog.ts) against a KV whose copy of `catalog:live`
 * lags its pointer (another location's write: KV's caches catch up within 60 s, not key by key): the whole catalog
 * is parsed once per version it brings, not again at each second's read while the pointer is ahead of it.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import { liveCatalogJson, publishedVersion } from "../../core/live-catalog";
import { getLiveCatalog, resetLiveCatalogCache } from "../../worker/catalog/live-catalog";

/** A KV holding `values` (JSON text), answering get(key, "json" | "text") as Workers KV does. */
function fakeKv(values: Map<string, string>): KVNamespace {
  return {
    async get(key: string, type?: string) {
      const text = values.get(key) ?? null;
      return text !== null && type === "json" ? JSON.parse(text) : text;
    },
  } as unknown as KVNamespace;
}

describe("live catalog reads at the edge", () => {
  afterEach(() => {
    resetLiveCatalogCache();
    vi.restoreAllMocks();
  });

  it("a catalog older than the pointer, read again each second, is parsed only when it is newer than the copy", async () => {
    const items = new Map(Array.from({ length: 2000 }, (_, i) => [`p${i}`, { stock: i % 2, title: "x".repeat(100) }]));
    const catalog = liveCatalogJson({ version: 100, updatedAt: 1, items });
    // the pointer says 200: the location's copy of the catalog has not caught up yet
    const kv = fakeKv(
      new Map([
        [kvKeys.liveCatalog, catalog],
        [kvKeys.liveCatalogVersion, JSON.stringify({ version: 200 })],
      ]),
    );
    const parse = vi.spyOn(JSON, "parse");
    const parses = () => parse.mock.calls.filter(([text]) => text === catalog).length;
    const t0 = 1_000_000;
    for (let s = 0; s < 5; s++) {
      const view = await getLiveCatalog(kv, () => undefined, t0 + s * 1000);
      // what it brought is kept, older than the pointer as it is
      expect(view.catalog.version).toBe(100);
      expect(view.unavailable.has("p0")).toBe(true);
    }
    expect(parses()).toBe(1);
  });

  it("reads the version a published catalog names from its start", () => {
    expect(publishedVersion(liveCatalogJson({ version: 1_760_000_000_123, updatedAt: 5, items: new Map() }))).toBe(
      1_760_000_000_123,
    );
    expect(publishedVersion('{"updatedAt":5,"version":3,"items":{}}')).toBeNull();
    expect(publishedVersion("")).toBeNull();
  });
});
