/**
 * Deleting a model version (core/model-deletion.ts, `npm run models -- delete`) against an in-memory KV: what it
 * deletes and in which order, and each reason it refuses with nothing deleted.
 */
import { describe, expect, it } from "vitest";
import { kvKeys } from "../../core/kv-keys";
import {
  CLI_READ_LIMITS,
  DELETE_SETTLE_MS,
  deleteVersion as deleteWith,
  WORKER_READ_LIMITS,
} from "../../core/model-deletion";
import { activate, listVersions, rollback } from "../../core/model-versions";
import { type MemoryKv, memoryKv, publish } from "./support/memory-kv";

const T0 = new Date("2026-03-01T00:00:00Z");
/** Long enough after the last move for a delete. */
const later = (from = T0) => new Date(from.getTime() + DELETE_SETTLE_MS);
const put = (kv: MemoryKv, key: string, value: unknown) =>
  kv.data.set(key, new TextEncoder().encode(JSON.stringify(value)));
const campaign = (model?: string) => ({
  v: 2,
  default: { id: "picks", type: "recommendations" },
  ...(model && { model }),
});

/** v1 active, then v2 and back (v2 is neither active nor in the history), v3 stored and never active. */
async function shop(): Promise<MemoryKv> {
  const kv = memoryKv();
  for (const v of ["v1", "v2", "v3"]) publish(kv, v);
  kv.data.set(kvKeys.neighbours("v2"), new Uint8Array([1, 2, 3]));
  await activate(kv, "v1", new Date(T0.getTime() - 3_600_000));
  await activate(kv, "v2", new Date(T0.getTime() - 1_800_000));
  await rollback(kv, T0);
  return kv;
}

/** As `npm run models -- delete` reads campaigns. */
const deleteVersion = (kv: MemoryKv, version: string, now: Date) => deleteWith(kv, version, CLI_READ_LIMITS, now);
const stored = (kv: MemoryKv, version: string) => [...kv.data.keys()].filter((k) => k.startsWith(`model:${version}:`));

describe("npm run models -- delete", () => {
  it("deletes every key of a version nothing serves, the manifest last on its own; the listing no longer has it", async () => {
    const kv = await shop();
    put(kv, kvKeys.campaign("spring"), campaign());
    const done = await deleteVersion(kv, "v2", later());
    expect(done.deleted).toEqual([
      kvKeys.catalog("v2"),
      kvKeys.neighbours("v2"),
      kvKeys.onnx("v2"),
      kvKeys.manifest("v2"),
    ]);
    expect(kv.deletes).toEqual([
      [kvKeys.catalog("v2"), kvKeys.neighbours("v2"), kvKeys.onnx("v2")],
      [kvKeys.manifest("v2")],
    ]);
    expect(stored(kv, "v2")).toEqual([]);
    // another version whose name starts the same is not touched
    expect((await listVersions(kv)).versions.map((v) => v.version).sort()).toEqual(["v1", "v3"]);
    await expect(deleteVersion(kv, "v2", later())).rejects.toThrow("v2 is not stored");
  });

  it("a delete cut short leaves the manifest, so the version is still listed (failing its check) and deleted again", async () => {
    const kv = await shop();
    const failing: MemoryKv = {
      ...kv,
      delete: async (keys) => {
        if (keys.includes(kvKeys.manifest("v3"))) throw new Error("KV delete failed");
        return kv.delete(keys);
      },
    };
    await expect(deleteVersion(failing, "v3", later())).rejects.toThrow("KV delete failed");
    expect(stored(kv, "v3")).toEqual([kvKeys.manifest("v3")]);
    const listed = (await listVersions(kv)).versions.find((v) => v.version === "v3");
    expect(listed?.check).not.toBe("ok");
    expect((await deleteVersion(kv, "v3", later())).deleted).toEqual([kvKeys.manifest("v3")]);
  });

  it.each([
    ["the active version", "v1", "v1 is the active version: activate another first"],
    ["a name that is not a version", "v1:onnx", "is not a model version"],
    ["a version never stored", "v9", "v9 is not stored"],
  ])("refuses %s, deleting nothing", async (_, version, message) => {
    const kv = await shop();
    await expect(deleteVersion(kv, version, later())).rejects.toThrow(message);
    expect(kv.deletes).toEqual([]);
  });

  it("refuses a version in the history: a rollback can return to it", async () => {
    const kv = await shop();
    await activate(kv, "v3", later());
    await expect(deleteVersion(kv, "v1", later(later()))).rejects.toThrow(
      "v1 is in the history (model:history): a rollback can return to it; nothing was deleted",
    );
    expect(kv.deletes).toEqual([]);
  });

  it("refuses within DELETE_SETTLE_MS of the pointer's last move, saying when it may", async () => {
    const kv = await shop();
    const soon = new Date(T0.getTime() + DELETE_SETTLE_MS - 1000);
    await expect(deleteVersion(kv, "v9", soon)).rejects.toThrow("v9 is not stored");
    await expect(deleteVersion(kv, "v2", soon)).rejects.toThrow(
      `less than 5 minutes ago: an open elsewhere may still read the pointer from before it; try again after ${later().toISOString()}`,
    );
    expect(stored(kv, "v2")).toHaveLength(4);
  });

  it("refuses a version a stored campaign or a running experiment's variant names; a stopped one's does not hold it", async () => {
    const kv = await shop();
    put(kv, kvKeys.campaign("spring"), campaign("v2"));
    const experiment = (status: string) => ({
      v: 1,
      id: "retrain",
      campaign: "autumn",
      status,
      variants: [
        { id: "control", weight: 1, content: "popular" },
        { id: "retrained", weight: 1, content: campaign("v3") },
      ],
    });
    put(kv, kvKeys.campaignExperiment("autumn"), experiment("running"));
    await expect(deleteVersion(kv, "v2", later())).rejects.toThrow(
      "v2 is named by spring: their opens are scored with it",
    );
    await expect(deleteVersion(kv, "v3", later())).rejects.toThrow("v3 is named by autumn (experiment retrain)");
    expect(kv.deletes).toEqual([]);
    put(kv, kvKeys.campaignExperiment("autumn"), experiment("stopped"));
    expect((await deleteVersion(kv, "v3", later())).version).toBe("v3");
  });

  it("refuses when more campaigns are stored than it reads, rather than guess: the Worker reads fewer than the CLI", async () => {
    const kv = await shop();
    for (let i = 0; i <= WORKER_READ_LIMITS.campaigns; i++) put(kv, kvKeys.campaign(`c${i}`), campaign());
    await expect(deleteWith(kv, "v2", WORKER_READ_LIMITS, later())).rejects.toThrow(
      `more than ${WORKER_READ_LIMITS.campaigns} campaigns or ${WORKER_READ_LIMITS.experiments} running experiments are stored`,
    );
    expect(kv.deletes).toEqual([]);
    expect((await deleteVersion(kv, "v2", later())).version).toBe("v2");
    for (let i = 0; i <= CLI_READ_LIMITS.campaigns; i++) put(kv, kvKeys.campaign(`c${i}`), campaign());
    await expect(deleteVersion(kv, "v3", later())).rejects.toThrow("delete its model:v3:* keys by hand");
  });
});
