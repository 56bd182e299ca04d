/**
 * Writes KV entries through wrangler (local state under .wrangler/, or --remote): text entries with
 * `kv bulk put` in chunks, in order. Binary (base64) entries go one by one through `kv key put --path` in
 * local mode, because wrangler 4.86's local bulk put decodes base64 values to a UTF-8 string and so
 * corrupts binary data (the remote bulk API decodes them correctly).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KvEntry } from "./kv-entries";

export const KV_BINDING = "OPENTIME_KV";
/** Cloudflare's bulk API takes at most 10,000 pairs per request. */
const CHUNK = 10_000;

export interface PutOptions {
  remote?: boolean;
  /** local state directory (wrangler's --persist-to) */
  persistTo?: string;
  log?: (msg: string) => void;
}

export async function bulkPut(entries: readonly KvEntry[], opts: PutOptions = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "opentime-kv-"));
  try {
    const where = opts.remote ? ["--remote"] : ["--local", ...(opts.persistTo ? ["--persist-to", opts.persistTo] : [])];
    let written = 0;
    let batch: KvEntry[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const file = join(dir, `batch-${written}.json`);
      await writeFile(file, JSON.stringify(batch));
      wrangler(["kv", "bulk", "put", file, "--binding", KV_BINDING, ...where]);
      written += batch.length;
      batch = [];
      opts.log?.(`wrote ${written}/${entries.length} KV entries`);
    };
    for (const entry of entries) {
      if (entry.base64 && !opts.remote) {
        await flush();
        const file = join(dir, "binary.bin");
        await writeFile(file, Buffer.from(entry.value, "base64"));
        wrangler(["kv", "key", "put", entry.key, "--path", file, "--binding", KV_BINDING, ...where]);
        written++;
        continue;
      }
      batch.push(entry);
      if (batch.length === CHUNK) await flush();
    }
    await flush();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function wrangler(args: string[]): void {
  const res = spawnSync("npx", ["wrangler", ...args], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (res.status !== 0) throw new Error(`wrangler ${args.slice(0, 3).join(" ")} failed: ${res.stderr || res.stdout}`);
}
