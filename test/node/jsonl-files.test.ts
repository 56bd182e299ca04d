/**
 * profiles.jsonl and pools.jsonl go through write and read streams a line at a time (scripts/lib/jsonl.ts), never
 * as one string: Node's strings stop at ~536.8M characters, which a million readers' lines pass (~1.5 KB a profile,
 * ~2.5 KB a pool), so `npm run train` failed with "Invalid string length" after the whole training, and `npm run
 * seed` reading the file back whole would too. The limit itself is too large to reach in a test: this holds the
 * trainer and the seed to the streams (no whole-file readFile or writeFile of a .jsonl), the files to the bytes they
 * always had, and the streams to every line of many.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Golden } from "../../core/golden";
import { emptyProfile, type Profile } from "../../core/profile";
import { readLines, writeLines } from "../../scripts/lib/jsonl";
import { allEntries, readPools, readProfiles } from "../../scripts/seed/kv-entries";
import type { Engagement } from "../../scripts/train/steps/fit-engagement";
import type { Recommenders } from "../../scripts/train/steps/fit-recommenders";
import { writeModel } from "../../scripts/train/steps/write-model";
import { tinyModel } from "./support/tiny-model";

// every path given to a whole-file read or write, of node:fs and node:fs/promises alike
const whole = vi.hoisted(() => ({ paths: [] as string[] }));
vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const spy =
    <A extends unknown[], R>(f: (...a: A) => R) =>
    (...a: A): R => {
      whole.paths.push(String(a[0]));
      return f(...a);
    };
  const mocked = { ...fs, readFile: spy(fs.readFile), writeFile: spy(fs.writeFile), appendFile: spy(fs.appendFile) };
  return { ...mocked, default: mocked };
});
vi.mock("node:fs", async (original) => {
  const fs = await original<typeof import("node:fs")>();
  const spy =
    <A extends unknown[], R>(f: (...a: A) => R) =>
    (...a: A): R => {
      whole.paths.push(String(a[0]));
      return f(...a);
    };
  const mocked = {
    ...fs,
    readFileSync: spy(fs.readFileSync),
    writeFileSync: spy(fs.writeFileSync),
    appendFileSync: spy(fs.appendFileSync),
  };
  return { ...mocked, default: mocked };
});

const VERSION = "als-jsonltest01";
const jsonl = () => whole.paths.filter((p) => p.endsWith(".jsonl"));
// the files' bytes before they were streamed: every line joined by "\n", and one more
const joined = (lines: readonly string[]) => `${lines.join("\n")}\n`;

async function* numbered(n: number): AsyncGenerator<string> {
  // characters of two, three and four UTF-8 bytes: a read chunk's end falls inside one somewhere in the file
  for (let i = 0; i < n; i++) yield JSON.stringify({ i, s: "é€😀".repeat(i % 7) });
}

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) out.push(l);
  return out;
}

function modelFiles(profiles: Profile[], pools: Map<string, string>) {
  const { manifest, catalog, onnx } = tinyModel(VERSION, { users: profiles.length });
  const recs = {
    version: VERSION,
    alsOnnx: onnx,
    alsItems: { n: 2, d: 4, q: Int8Array.of(1, 2, 3, 4, -1, -2, -3, -4), scales: Float32Array.of(0.1, 0.2) },
    contentOnnx: null,
    ranker: null,
  } as unknown as Recommenders;
  const engagement = { segments: null, segmentOnnx: null } as unknown as Engagement;
  const golden: Golden = { als: [], content: [], hybrid: [], ranker: [] };
  return { recs, engagement, manifest, catalog, golden, profiles, pools };
}

describe("JSON Lines files through streams", () => {
  beforeEach(() => {
    whole.paths.length = 0;
  });

  it("writes and reads back 200,000 lines of an async iterable, each whole and in order", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "ot-jsonl-")), "many.jsonl");
    await writeLines(file, numbered(200_000));
    const expected = await collect(numbered(200_000));
    expect(readFileSync(file, "utf8")).toBe(joined(expected));
    whole.paths.length = 0;
    const read = await collect(readLines(file));
    expect(read.length).toBe(200_000);
    expect(read).toEqual(expected);
    expect(jsonl()).toEqual([]);
  });

  it("no lines: an empty file; a failure to open, to write or of the lines themselves rejects", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ot-jsonl-"));
    await writeLines(join(dir, "none.jsonl"), []);
    expect(readFileSync(join(dir, "none.jsonl"), "utf8")).toBe("");
    expect(await collect(readLines(join(dir, "none.jsonl")))).toEqual([]);
    await expect(writeLines(join(dir, "no/such/dir.jsonl"), ["a"])).rejects.toMatchObject({ code: "ENOENT" });
    async function* failing() {
      yield "a";
      throw new Error("the lines failed");
    }
    await expect(writeLines(join(dir, "half.jsonl"), failing())).rejects.toThrow("the lines failed");
    await expect(collect(readLines(join(dir, "absent.jsonl")))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("the trainer writes profiles.jsonl and pools.jsonl a line at a time, with the bytes they had, and the seed streams them back", async () => {
    const out = mkdtempSync(join(tmpdir(), "ot-jsonl-model-"));
    const profiles = ["u1", "u2", "u3"].map((u) => emptyProfile(u, "2026-01-01T00:00:00.000Z"));
    const pools = new Map([
      ["u1", "AAAA"],
      ["u3", "BBBB"],
    ]);
    const dir = await writeModel(out, modelFiles(profiles, pools), () => {});
    expect(jsonl()).toEqual([]);
    expect(readFileSync(join(dir, "profiles.jsonl"), "utf8")).toBe(joined(profiles.map((p) => JSON.stringify(p))));
    expect(readFileSync(join(dir, "pools.jsonl"), "utf8")).toBe(
      joined([...pools].map(([userId, pool]) => JSON.stringify({ userId, pool }))),
    );
    whole.paths.length = 0;
    expect(await readProfiles(dir)).toEqual(profiles);
    expect(await readPools(dir)).toEqual(pools);
    const { entries, users } = await allEntries(dir, true);
    expect(users).toBe(3);
    expect(entries.filter((e) => e.key.startsWith("profile:")).length).toBe(3);
    expect(jsonl()).toEqual([]);
  });

  it("no profiles: profiles.jsonl is one empty line, as it was, and reads as none", async () => {
    const out = mkdtempSync(join(tmpdir(), "ot-jsonl-model-"));
    const dir = await writeModel(out, modelFiles([], new Map()), () => {});
    expect(jsonl()).toEqual([]);
    expect(readFileSync(join(dir, "profiles.jsonl"), "utf8")).toBe(joined([]));
    expect(await readProfiles(dir)).toEqual([]);
    expect(await readPools(dir)).toEqual(new Map());
  });
});
