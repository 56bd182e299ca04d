/**
 * The live catalog's size bound in workerd: long texts and links on a few thousand items (far below the 20,000
 * item bound) would grow the published overlay past what KV stores in one value; a PATCH past MAX_LIVE_BYTES is
 * refused, naming the bound, and the catalog already published goes on being published and served. A PATCH body past
 * its bytes is refused saying to split it.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import { catalogWriter } from "../../worker/catalog/catalog-stub";
import { adminRequest } from "./support/webhook-receiver";

/** About 5 KB of live fields an item, 190 items (just under 1 MB) a PATCH. */
const longItem = (i: number) => ({
  id: `long-${String(i).padStart(5, "0")}`,
  title: "T".repeat(500),
  category: "C".repeat(500),
  image: `https://cdn.shop.example/${"i".repeat(2000)}`,
  url: `https://shop.example/${"u".repeat(2000)}`,
});
const PER_PATCH = 190;
/** core/live-catalog.ts MAX_LIVE_BYTES */
const MAX_LIVE_BYTES = 8 * 1024 * 1024;

const ids: string[] = [];
const patchLong = (from: number) => {
  const items = Array.from({ length: PER_PATCH }, (_, k) => longItem(from + k));
  for (const item of items) ids.push(item.id);
  return adminRequest("/v1/admin/catalog", "PATCH", { items });
};

async function publishedVersion(): Promise<number> {
  // the writer's alarm publishes what the one-a-second interval held back
  await new Promise((r) => setTimeout(r, 1100));
  await runDurableObjectAlarm(catalogWriter(env));
  return (await env.OPENTIME_KV.get<{ version: number }>(kvKeys.liveCatalogVersion, "json"))?.version ?? 0;
}

describe("live catalog size", () => {
  afterAll(async () => {
    for (let i = 0; i < ids.length; i += 500) {
      const clear = ids.slice(i, i + 500).map((id) => ({ id, title: null, category: null, image: null, url: null }));
      await adminRequest("/v1/admin/catalog", "PATCH", { items: clear });
    }
  });

  it("refuses a PATCH that would take the published overlay past MAX_LIVE_BYTES; publishing goes on", async () => {
    let version = 0;
    let refused: Response | null = null;
    for (let i = 0; refused === null; i += PER_PATCH) {
      const res = await patchLong(i);
      if (res.status !== 200) refused = res;
      else version = ((await res.json()) as { version: number }).version;
      // never more than the bound's worth and two PATCHes
      expect(i).toBeLessThan((MAX_LIVE_BYTES / (PER_PATCH * 5000) + 2) * PER_PATCH);
    }
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("BAD_REQUEST");
    expect(body.error.message).toContain(`at most ${MAX_LIVE_BYTES} bytes of live fields`);
    // what was accepted is published, and fits in one KV value
    expect(await publishedVersion()).toBe(version);
    const live = await env.OPENTIME_KV.get(kvKeys.liveCatalog);
    expect(new TextEncoder().encode(live ?? "").length).toBeLessThanOrEqual(MAX_LIVE_BYTES + 1024);
    // a PATCH that shrinks the overlay, and a small one after it, are taken and published
    const shrink = await adminRequest("/v1/admin/catalog", "PATCH", {
      items: ids.slice(0, 10).map((id) => ({ id, title: null })),
    });
    expect(shrink.status).toBe(200);
    ids.push("long-small");
    const small = await adminRequest("/v1/admin/catalog", "PATCH", { items: [{ id: "long-small", stock: 3 }] });
    expect(small.status).toBe(200);
    const { version: last } = (await small.json()) as { version: number };
    expect(await publishedVersion()).toBe(last);
  });

  it("a body past the PATCH's bytes (fewer than 1,000 items, with long links) says to split it; nothing is set", async () => {
    const items = Array.from({ length: 600 }, (_, i) => ({
      id: `split-${i}`,
      url: `https://shop.example/p/${i}?${"utm=x&".repeat(300)}`,
    }));
    const res = await adminRequest("/v1/admin/catalog", "PATCH", { items });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(body.error.message).toBe(
      "a PATCH body holds at most 1024000 bytes (1000 items of about 1 KB): send its items in smaller PATCHes",
    );
    const item = await adminRequest("/v1/admin/catalog/items/split-0", "GET");
    expect(((await item.json()) as { overlay: unknown }).overlay).toBeNull();
  });
});
