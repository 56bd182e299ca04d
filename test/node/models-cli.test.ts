/**
 * `npm run models` and the moves it shares with the Worker (core/model-versions.ts) against an in-memory KV:
 * activate and rollback (the check, the history, campaigns naming a segment the version lacks), list, the active
 * pointer's version name, the wrangler KV client, and which state a single writer moves from (freshestState).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeMissing, type MissingSegment, segmentsWarning } from "../../core/campaign-segments";
import type { Catalog } from "../../core/catalog";
import type { KvClient } from "../../core/kv-client";
import { kvKeys } from "../../core/kv-keys";
import { ActivePointerSchema, MODEL_HISTORY_MAX } from "../../core/manifest";
import {
  activate,
  freshestState,
  listVersions,
  MAX_CAMPAIGNS_CHECKED,
  MAX_LISTED_VERSIONS,
  ModelsError,
  rollback,
} from "../../core/model-versions";
import { bulkPut, wranglerKv } from "../../scripts/seed/wrangler-kv";
import { type MemoryKv, memoryKv, publish } from "./support/memory-kv";

const text = (kv: KvClient, key: string) =>
  kv.get(key).then((b) => (b ? JSON.parse(new TextDecoder().decode(b)) : null));

/** Rewrites one stored JSON part. */
// biome-ignore lint/suspicious/noExplicitAny: a test's hand edit of a stored part
function editJson(kv: MemoryKv, key: string, edit: (v: any) => unknown) {
  const value = JSON.parse(new TextDecoder().decode(kv.data.get(key)));
  kv.data.set(key, new TextEncoder().encode(JSON.stringify(edit(value))));
}

describe("npm run models: activate", () => {
  it("moves the pointer to a version that passes the check and records the one it replaces", async () => {
    const kv = memoryKv();
    publish(kv, "v1");
    publish(kv, "v2");
    const first = await activate(kv, "v1", new Date("2026-02-01T00:00:00Z"));
    expect(first.previous).toBeNull();
    expect(await text(kv, kvKeys.activeModel)).toEqual({ version: "v1", activatedAt: "2026-02-01T00:00:00.000Z" });
    const second = await activate(kv, "v2");
    expect(second.previous?.version).toBe("v1");
    expect((await text(kv, kvKeys.activeModel)).version).toBe("v2");
    expect((await text(kv, kvKeys.modelHistory)).map((h: { version: string }) => h.version)).toEqual(["v1"]);
    // history before pointer: a failure between the two never moves the pointer unrecorded
    expect(kv.puts.slice(-2)).toEqual([kvKeys.modelHistory, kvKeys.activeModel]);
    // activating the active version writes nothing
    const puts = kv.puts.length;
    expect((await activate(kv, "v2")).unchanged).toBe(true);
    expect(kv.puts.length).toBe(puts);
  });

  it("refuses a version that fails the check; the pointer and history are unchanged", async () => {
    const cases: [string, (kv: MemoryKv) => void, string][] = [
      [
        "bad-sha",
        (kv) => kv.data.set(kvKeys.onnx("bad-sha"), new TextEncoder().encode("other bytes")),
        "model-corrupt",
      ],
      ["no-onnx", (kv) => kv.data.delete(kvKeys.onnx("no-onnx")), "model-missing"],
      ["no-catalog", (kv) => kv.data.delete(kvKeys.catalog("no-catalog")), "catalog-invalid"],
      [
        "bad-catalog",
        (kv) => kv.data.set(kvKeys.catalog("bad-catalog"), new TextEncoder().encode("{oops")),
        "catalog-invalid",
      ],
      ["no-manifest", (kv) => kv.data.delete(kvKeys.manifest("no-manifest")), "model-manifest-invalid"],
      [
        "renamed",
        (kv) => kv.data.set(kvKeys.manifest("renamed"), kv.data.get(kvKeys.manifest("v1")) as Uint8Array),
        "model-manifest-invalid",
      ],
      [
        "future-spec",
        (kv) => {
          const m = JSON.parse(new TextDecoder().decode(kv.data.get(kvKeys.manifest("future-spec"))));
          kv.data.set(
            kvKeys.manifest("future-spec"),
            new TextEncoder().encode(JSON.stringify({ ...m, featureSpec: "x/9" })),
          );
        },
        "model-spec-unknown",
      ],
      // a ranker blended with linear terms in a manifest of format 1 (which a Worker knowing only 1 would strip),
      // and format 2 with none: either number says otherwise than the ranker
      ...(
        [
          ["linear-as-1", 1, [{ feature: 0, weight: 0.5 }]],
          ["plain-as-2", 2, undefined],
        ] as const
      ).map(([version, schema, linear]): (typeof cases)[number] => [
        version,
        (kv) => {
          const m = JSON.parse(new TextDecoder().decode(kv.data.get(kvKeys.manifest(version))));
          const trees = { features: ["hybrid"], base: 0, trees: [], ...(linear ? { linear } : {}) };
          const ranker = { all: trees, novel: { ...trees, linear: undefined } };
          kv.data.set(kvKeys.manifest(version), new TextEncoder().encode(JSON.stringify({ ...m, schema, ranker })));
        },
        "model-manifest-invalid",
      ]),
    ];
    for (const [version, damage, reason] of cases) {
      const kv = memoryKv();
      publish(kv, "v1");
      await activate(kv, "v1");
      publish(kv, version);
      damage(kv);
      const before = new Map(kv.data);
      const err = await activate(kv, version).catch((e: unknown) => e);
      expect(err, version).toBeInstanceOf(ModelsError);
      expect((err as Error).message).toContain(reason);
      expect(kv.data, version).toEqual(before);
    }
  });

  // a catalog of the manifest's item count but not its items in its order: the model's output i would show another
  // product than itemIds[i], and a lookup by id another one again; the detail names the first mismatch
  it.each([
    [
      "swapped",
      (c: Catalog) => ({ ...c, items: [c.items[1], c.items[0]] }),
      'catalog-invalid (catalog item 0 is "b", manifest itemIds[0] is "a")',
    ],
    [
      "other-ids",
      (c: Catalog) => ({ ...c, items: c.items.map((it) => ({ ...it, id: `${it.id}2` })) }),
      'catalog-invalid (catalog item 0 is "a2", manifest itemIds[0] is "a")',
    ],
    [
      "twice",
      (c: Catalog) => ({ ...c, items: [c.items[0], c.items[0]] }),
      'catalog-invalid (manifest itemIds repeat "a" at index 1)',
    ],
    [
      "popular-past",
      (c: Catalog) => ({ ...c, popular: [1, 0, 2] }),
      "catalog-invalid (the popular list holds 2, not an item index below 2)",
    ],
    [
      // named by value: a position in the list made distinct would not be the file's (here the 5 is its popular[3])
      "popular-past-after-repeat",
      (c: Catalog) => ({ ...c, popular: [1, 1, 0, 5] }),
      "catalog-invalid (the popular list holds 5, not an item index below 2)",
    ],
  ] as const)(
    "refuses a catalog that does not hold the manifest's items in order: %s",
    async (version, edit, message) => {
      const kv = memoryKv();
      publish(kv, "v1");
      await activate(kv, "v1");
      publish(kv, version);
      editJson(kv, kvKeys.catalog(version), edit);
      // the same id twice: in the manifest too, so that it is not the catalog's order that refuses it
      if (version === "twice") editJson(kv, kvKeys.manifest(version), (m) => ({ ...m, itemIds: ["a", "a"] }));
      const before = new Map(kv.data);
      const err = await activate(kv, version).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelsError);
      expect((err as Error).message).toContain(message);
      expect(kv.data).toEqual(before);
    },
  );

  it("activates a version whose ranker blends the hybrid in when its manifest says format 2", async () => {
    const kv = memoryKv();
    publish(kv, "blended");
    const m = JSON.parse(new TextDecoder().decode(kv.data.get(kvKeys.manifest("blended"))));
    const ranker = { all: { features: ["hybrid"], base: 0, trees: [], linear: [{ feature: 0, weight: 0.25 }] } };
    kv.data.set(kvKeys.manifest("blended"), new TextEncoder().encode(JSON.stringify({ ...m, schema: 2, ranker })));
    expect((await activate(kv, "blended")).unchanged).toBe(false);
  });

  it("says a version that is not stored is not stored, rather than that its catalog is invalid", async () => {
    const kv = memoryKv();
    publish(kv, "v1");
    await activate(kv, "v1");
    const before = new Map(kv.data);
    const err = await activate(kv, "v9").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelsError);
    expect((err as Error).message).toBe(
      "v9 is not stored (no manifest or catalog): `npm run models -- list` names the versions stored, and `npm run seed -- --model models/<version>` stores one trained and activates it; the pointer is unchanged",
    );
    expect(kv.data).toEqual(before);
  });

  it("refuses a name that is not a version before reading anything", async () => {
    const kv = memoryKv();
    for (const bad of ["a:b", "v1\r\nX: y", "", "x".repeat(65)])
      await expect(activate(kv, bad)).rejects.toThrow("is not a model version");
  });

  it("keeps at most MODEL_HISTORY_MAX versions of history", async () => {
    const kv = memoryKv();
    for (let i = 0; i <= MODEL_HISTORY_MAX + 2; i++) {
      publish(kv, `v${i}`);
      await activate(kv, `v${i}`);
    }
    const history = await text(kv, kvKeys.modelHistory);
    expect(history).toHaveLength(MODEL_HISTORY_MAX);
    expect(history.at(-1).version).toBe(`v${MODEL_HISTORY_MAX + 1}`);
  });
});

describe("npm run models: rollback", () => {
  it("returns to the version active before, then the one before that, then refuses", async () => {
    const kv = memoryKv();
    for (const v of ["v1", "v2", "v3"]) {
      publish(kv, v);
      await activate(kv, v);
    }
    expect((await rollback(kv)).pointer.version).toBe("v2");
    expect((await text(kv, kvKeys.activeModel)).version).toBe("v2");
    expect((await rollback(kv)).pointer.version).toBe("v1");
    await expect(rollback(kv)).rejects.toThrow("no earlier version");
    expect((await text(kv, kvKeys.activeModel)).version).toBe("v1");
  });

  /** A store that has served v1, v2 and v3 in turn, whose first write of `key` from now on fails. */
  async function threeVersionsFailingOnce(key: string) {
    const kv = memoryKv();
    for (const v of ["v1", "v2", "v3"]) {
      publish(kv, v);
      await activate(kv, v);
    }
    const put = kv.put;
    let failed = false;
    kv.put = async (k, value) => {
      if (k === key && !failed) {
        failed = true;
        throw new Error("KV unavailable");
      }
      return put(k, value);
    };
    return kv;
  }

  it("a rollback whose pointer write fails, tried again, returns to the version it meant, not one further back", async () => {
    const kv = await threeVersionsFailingOnce(kvKeys.activeModel);
    await expect(rollback(kv)).rejects.toThrow("KV unavailable");
    expect((await text(kv, kvKeys.activeModel)).version).toBe("v3");
    expect((await rollback(kv)).pointer.version).toBe("v2");
    expect((await text(kv, kvKeys.activeModel)).version).toBe("v2");
    // and from there, the one before it
    expect((await rollback(kv)).pointer.version).toBe("v1");
  });

  it("a rollback whose history write fails still leaves the next rollback going one further back", async () => {
    const kv = await threeVersionsFailingOnce(kvKeys.modelHistory);
    // the pointer moved; the history still holds v2 last, which a rollback from v2 skips
    await expect(rollback(kv)).rejects.toThrow("KV unavailable");
    expect((await text(kv, kvKeys.activeModel)).version).toBe("v2");
    expect((await rollback(kv)).pointer.version).toBe("v1");
  });

  it("refuses to return to a version that no longer passes the check", async () => {
    const kv = memoryKv();
    publish(kv, "v1");
    publish(kv, "v2");
    await activate(kv, "v1");
    await activate(kv, "v2");
    kv.data.delete(kvKeys.onnx("v1"));
    await expect(rollback(kv)).rejects.toThrow("v1 (active before v2) refused: model-missing");
    expect((await text(kv, kvKeys.activeModel)).version).toBe("v2");
  });
});

describe("npm run models: campaigns naming a lost segment", () => {
  const put = (kv: MemoryKv, key: string, value: unknown) =>
    kv.data.set(key, new TextEncoder().encode(JSON.stringify(value)));
  const segmentCampaign = (name: string) => ({
    v: 2,
    blocks: [
      {
        id: "vip",
        type: "static",
        title: "VIP",
        image: "https://shop.example/i.png",
        url: "https://shop.example/",
        when: { $or: [{ segment: { $eq: name } }] },
      },
    ],
    default: { id: "picks", type: "recommendations" },
  });

  it("lists them when a move makes them false, moves all the same, and says so back and forth", async () => {
    const kv = memoryKv();
    publish(kv, "v1", { segments: ["Champions", "Loyal regulars"] });
    publish(kv, "v2", { segments: ["Big spenders", "Loyal regulars"] });
    put(kv, kvKeys.campaign("spring"), segmentCampaign("Champions"));
    put(kv, kvKeys.campaign("plain"), segmentCampaign("Loyal regulars"));
    put(kv, kvKeys.campaignExperiment("plain"), {
      v: 1,
      id: "exp",
      campaign: "plain",
      variants: [{ id: "a", weight: 1, content: segmentCampaign("Champions") }],
    });
    const first = await activate(kv, "v1");
    expect(first.campaignSegmentsMissing).toEqual([]);
    expect(first.campaignsChecked).toEqual({ campaigns: 2, experiments: 1, complete: true });
    const second = await activate(kv, "v2");
    expect((await text(kv, kvKeys.activeModel)).version).toBe("v2");
    expect(second.campaignSegmentsMissing.map((m) => [m.campaign, m.experiment, m.path, m.segment, m.nearest])).toEqual(
      [
        ["spring", null, "blocks[0].when.$or[0].segment", "Champions", null],
        ["plain", "exp", "variants[0].content.blocks[0].when.$or[0].segment", "Champions", null],
      ],
    );
    // back: nothing lost; and activating the active version again still says it
    expect((await rollback(kv)).campaignSegmentsMissing).toEqual([]);
    expect((await activate(kv, "v1")).campaignSegmentsMissing).toEqual([]);
    expect((await activate(kv, "v2")).campaignSegmentsMissing).toHaveLength(2);
    expect((await activate(kv, "v2")).unchanged).toBe(true);
    expect((await activate(kv, "v2")).campaignSegmentsMissing).toHaveLength(2);
  });

  it("reads at most MAX_CAMPAIGNS_CHECKED campaigns, in key order, and says the rest went unchecked", async () => {
    const kv = memoryKv();
    publish(kv, "v1", { segments: ["Loyal regulars"] });
    for (let i = 0; i <= MAX_CAMPAIGNS_CHECKED; i++)
      put(kv, kvKeys.campaign(`c${String(i).padStart(4, "0")}`), segmentCampaign("Champions"));
    const move = await activate(kv, "v1");
    expect(move.campaignsChecked).toEqual({ campaigns: MAX_CAMPAIGNS_CHECKED, experiments: 0, complete: false });
    expect(move.campaignSegmentsMissing).toHaveLength(MAX_CAMPAIGNS_CHECKED);
    expect(move.campaignSegmentsMissing.at(-1)?.campaign).toBe(
      `c${String(MAX_CAMPAIGNS_CHECKED - 1).padStart(4, "0")}`,
    );
  });

  it("moves all the same when the campaigns cannot be read, and says none were checked", async () => {
    const kv = memoryKv();
    publish(kv, "v1", { segments: ["Loyal regulars"] });
    put(kv, kvKeys.campaign("spring"), segmentCampaign("Champions"));
    const failing: KvClient = {
      ...kv,
      list: async (prefix, limit) => {
        if (prefix === kvKeys.campaign("")) throw new Error("KV list failed");
        return kv.list(prefix, limit);
      },
    };
    const move = await activate(failing, "v1");
    expect((await text(kv, kvKeys.activeModel)).version).toBe("v1");
    expect(move).toMatchObject({ campaignSegmentsMissing: [], campaignsChecked: null });
    expect(segmentsWarning("v1", move.campaignSegmentsMissing, move.campaignsChecked)).toEqual([
      "WARNING: campaigns were not checked for segment names the version lacks",
    ]);
  });

  it("says a $ne on a version with no segment model holds for no one", async () => {
    const kv = memoryKv();
    publish(kv, "v1", { segments: [] });
    put(kv, kvKeys.campaign("spring"), {
      ...segmentCampaign("x"),
      blocks: [{ ...segmentCampaign("x").blocks[0], when: { segment: { $ne: "Champions" } } }],
    });
    const [m] = (await activate(kv, "v1")).campaignSegmentsMissing;
    expect(m?.noSegmentModel).toBe(true);
    expect(describeMissing(m as MissingSegment)).toContain("holds for no one: the version has no segment model");
  });
});

describe("npm run models: list", () => {
  it("lists every version newest first with its check, and marks the active one", async () => {
    const kv = memoryKv();
    publish(kv, "old", { createdAt: "2026-01-01T00:00:00Z" });
    publish(kv, "new", { createdAt: "2026-03-01T00:00:00Z" });
    publish(kv, "broken", { createdAt: "2026-02-01T00:00:00Z" });
    kv.data.set(kvKeys.onnx("broken"), new TextEncoder().encode("truncated"));
    await activate(kv, "old");
    await activate(kv, "new");
    const l = await listVersions(kv);
    expect(l.versions.map((v) => [v.version, v.check, v.active])).toEqual([
      ["new", "ok", true],
      ["broken", "model-corrupt", false],
      ["old", "ok", false],
    ]);
    expect(l.versions[0]).toMatchObject({ featureSpec: "als-user-vector/1", items: 2 });
    expect(l.history.map((h) => h.version)).toEqual(["old"]);
  });
});

describe("npm run models: list, page by page", () => {
  const day = (d: number) => new Date(Date.UTC(2026, 0, 1 + d)).toISOString();

  it("reads only the versions a page shows, newest first, and pages through all of them once", async () => {
    const kv = memoryKv();
    // published in no order of their names; three by an earlier release, with no time in their key's metadata
    for (let d = 0; d < 60; d++) publish(kv, `v-${(d * 37) % 60}`, { createdAt: day(d) });
    for (const d of [70, 71, 72]) publish(kv, `old-${d}`, { createdAt: day(d), undated: true });
    await activate(kv, "v-0");
    kv.reads.length = 0;
    const first = await listVersions(kv, { limit: 10 });
    expect(first.versions.map((v) => v.createdAt)).toEqual([72, 71, 70, 59, 58, 57, 56, 55, 54, 53].map(day));
    expect(first.versions.every((v) => v.check === "ok")).toBe(true);
    expect(first.active?.version).toBe("v-0");
    // the page's own parts (manifest, catalog, ONNX), the undated manifests and the state: not 63 versions' parts
    expect(kv.reads.length).toBeLessThanOrEqual(10 * 3 + 3 + 2);
    const shown = [...first.versions];
    for (let cursor = first.cursor; cursor !== null; ) {
      const next = await listVersions(kv, { limit: 10, cursor });
      shown.push(...next.versions);
      cursor = next.cursor;
    }
    expect(shown.map((v) => v.version)).toHaveLength(63);
    expect(new Set(shown.map((v) => v.version)).size).toBe(63);
    expect(shown.at(-1)?.createdAt).toBe(day(0));
    expect(shown.filter((v) => v.active).map((v) => v.version)).toEqual(["v-0"]);
    await expect(listVersions(kv, { cursor: "not-a-cursor" })).rejects.toThrow(ModelsError);
  });

  it("takes at most MAX_LISTED_VERSIONS a page", async () => {
    const kv = memoryKv();
    for (let d = 0; d < MAX_LISTED_VERSIONS + 5; d++) publish(kv, `v${d}`, { createdAt: day(d) });
    const page = await listVersions(kv, { limit: 1000 });
    expect(page.versions).toHaveLength(MAX_LISTED_VERSIONS);
    expect(page.cursor).not.toBeNull();
  });
});

describe("the active pointer's version", () => {
  it("is a closed, header-safe name", () => {
    const ok = (version: string) => ActivePointerSchema.safeParse({ version, activatedAt: "now" }).success;
    expect(ok("retail-20260101-abc_1.2")).toBe(true);
    for (const bad of ["", "a:b", "a b", "v1\r\nX-Injected: 1", "ünï", "x".repeat(65)])
      expect(ok(bad), bad).toBe(false);
  });
});

describe("wrangler KV client", () => {
  it("round-trips binary and text values, lists by prefix and deletes in a local state directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ot-models-"));
    try {
      const kv = wranglerKv({ persistTo: dir });
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await kv.put("model:t:onnx", bytes);
      await kv.put("model:t:manifest", '{"é":"\\n"}');
      const [got, absent, listed, texts] = await Promise.all([
        kv.get("model:t:onnx"),
        kv.get("model:absent:onnx"),
        kv.list("model:"),
        kv.getTexts(["model:t:manifest", "model:absent:manifest"]),
      ]);
      expect(got).toEqual(bytes);
      expect(absent).toBeNull();
      expect(listed).toEqual(["model:t:manifest", "model:t:onnx"]);
      expect(texts).toEqual(
        new Map([
          ["model:t:manifest", '{"é":"\\n"}'],
          ["model:absent:manifest", null],
        ]),
      );
      // a delete of a key present and one absent (no error)
      await kv.delete(["model:t:onnx", "model:absent:onnx"]);
      expect(await kv.list("model:")).toEqual(["model:t:manifest"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("lists keys with the metadata a bulk put wrote them with (a manifest's time, as `npm run seed` writes it)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ot-models-"));
    try {
      const createdAt = "2026-02-01T00:00:00Z";
      await bulkPut(
        [
          { key: "model:u:manifest", value: "{}", metadata: { createdAt } },
          { key: "model:u:catalog", value: "{}" },
        ],
        { persistTo: dir },
      );
      expect(await wranglerKv({ persistTo: dir }).listWithMetadata("model:")).toEqual([
        { name: "model:u:catalog", metadata: null },
        { name: "model:u:manifest", metadata: { createdAt } },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("freshestState: the state a single writer moves from", () => {
  const state = (version: string | null, at: string, history: string[] = []) =>
    new Map<string, string | null>([
      [kvKeys.activeModel, version === null ? null : JSON.stringify({ version, activatedAt: at })],
      [kvKeys.modelHistory, JSON.stringify(history.map((v) => ({ version: v, activatedAt: at })))],
    ]);
  const version = (texts: Map<string, string | null>) =>
    JSON.parse(texts.get(kvKeys.activeModel) ?? "null")?.version ?? null;

  it("keeps its own writes over an older (or missing) KV pointer, and KV's over nothing of its own", () => {
    const ours = state("b", "2026-12-03T10:00:01.000Z", ["a"]);
    expect(version(freshestState(ours, state("a", "2026-12-03T10:00:00.000Z")))).toBe("b");
    expect(freshestState(ours, state(null, "")).get(kvKeys.modelHistory)).toContain('"a"');
    // the same pointer: ours (its history may be the newer one)
    expect(freshestState(ours, state("b", "2026-12-03T10:00:01.000Z")).get(kvKeys.modelHistory)).toContain('"a"');
    expect(version(freshestState(null, state("a", "2026-12-03T10:00:00.000Z")))).toBe("a");
    expect(version(freshestState(state(null, ""), state("a", "2026-12-03T10:00:00.000Z")))).toBe("a");
  });

  it("adopts a pointer activated later by another writer, with its history; an unreadable time never wins", () => {
    const ours = state("b", "2026-12-03T10:00:01.000Z", ["a"]);
    const theirs = state("c", "2026-12-03T10:05:00.000Z", ["a", "b"]);
    const fresh = freshestState(ours, theirs);
    expect(version(fresh)).toBe("c");
    expect(fresh.get(kvKeys.modelHistory)).toBe(theirs.get(kvKeys.modelHistory));
    expect(version(freshestState(ours, state("c", "not a time")))).toBe("b");
  });
});
