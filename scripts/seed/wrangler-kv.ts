/**
 * Writes KV entries through wrangler (local state under .wrangler/, or --remote): text entries with
 * `kv bulk put` in chunks, in order. Binary (base64) entries go one by one through `kv key put --path` in
 * local mode, because wrangler 4.86's local bulk put decodes base64 values to a UTF-8 string and so
 * corrupts binary data (the remote bulk API decodes them correctly). `wranglerKv` reads, writes and lists
 * keys the same way for `npm run models`: text values with one `kv bulk get`, binary ones with `kv key get`,
 * deletes with `kv bulk delete`.
 * `bulkDelete` removes keys with `kv bulk delete`.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KvClient } from "../../core/kv-client";
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
    const where = location(opts);
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

/** Deletes `keys` (absent ones are no error), in chunks of the bulk API's size. */
export async function bulkDelete(keys: readonly string[], opts: PutOptions = {}): Promise<void> {
  if (keys.length === 0) return;
  const dir = await mkdtemp(join(tmpdir(), "opentime-kv-"));
  try {
    for (let at = 0; at < keys.length; at += CHUNK) {
      const file = join(dir, `delete-${at}.json`);
      await writeFile(file, JSON.stringify(keys.slice(at, at + CHUNK)));
      wrangler(["kv", "bulk", "delete", file, "--force", "--binding", KV_BINDING, ...location(opts)]);
    }
    opts.log?.(`deleted ${keys.length} KV entries`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function location(opts: Pick<PutOptions, "remote" | "persistTo">): string[] {
  return opts.remote ? ["--remote"] : ["--local", ...(opts.persistTo ? ["--persist-to", opts.persistTo] : [])];
}

/** Single-key access to the namespace. */

/** What `wrangler kv key get` prints (to stdout, exit code 0) for an absent key. */
const NOT_FOUND = "Value not found\n";

/** The namespace through wrangler: local state (as `npm start` uses it) by default, the real one with `remote`. */
export function wranglerKv(opts: Pick<PutOptions, "remote" | "persistTo"> = {}): KvClient {
  const where = [...location(opts), "--binding", KV_BINDING];
  // Each local command starts a workerd on the same SQLite state; two at once fail with SQLITE_BUSY
  // (seen in CI), so local commands run one after another. Remote ones run concurrently.
  let tail: Promise<unknown> = Promise.resolve();
  const wranglerOutput = (args: string[]): Promise<Buffer> => {
    if (opts.remote) return runWrangler(args);
    const next = tail.then(() => runWrangler(args));
    tail = next.catch(() => undefined);
    return next;
  };
  return {
    async get(key) {
      const out = await wranglerOutput(["kv", "key", "get", key, ...where]);
      return out.toString("latin1") === NOT_FOUND ? null : new Uint8Array(out);
    },
    async getTexts(keys) {
      if (keys.length === 0) return new Map();
      const dir = await mkdtemp(join(tmpdir(), "opentime-kv-"));
      try {
        const file = join(dir, "keys.json");
        await writeFile(file, JSON.stringify(keys));
        const text = (await wranglerOutput(["kv", "bulk", "get", file, ...where])).toString("utf8");
        // the JSON object, then a "Success!" line
        const got = JSON.parse(text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1)) as Record<
          string,
          { value: string | null }
        >;
        return new Map(keys.map((k) => [k, got[k]?.value ?? null]));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async put(key, value) {
      const dir = await mkdtemp(join(tmpdir(), "opentime-kv-"));
      try {
        const file = join(dir, "value");
        await writeFile(file, value);
        await wranglerOutput(["kv", "key", "put", key, "--path", file, ...where]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async delete(keys) {
      // one `kv bulk delete` (at most 10,000 keys, more than a model version holds): its order is the API's, so a
      // caller that needs one key gone last deletes it in a call of its own
      if (keys.length === 0) return;
      if (keys.length > CHUNK) throw new Error(`at most ${CHUNK} keys are deleted at once, not ${keys.length}`);
      const dir = await mkdtemp(join(tmpdir(), "opentime-kv-"));
      try {
        const file = join(dir, "delete.json");
        await writeFile(file, JSON.stringify(keys));
        await wranglerOutput(["kv", "bulk", "delete", file, "--force", ...where]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async list(prefix, limit) {
      // wrangler lists every key under the prefix (it takes no limit): the first `limit` are kept
      const text = (await wranglerOutput(["kv", "key", "list", "--prefix", prefix, ...where])).toString("utf8");
      const json = text.slice(text.indexOf("["), text.lastIndexOf("]") + 1);
      return (JSON.parse(json) as { name: string }[]).map((k) => k.name).slice(0, limit);
    },
    async listWithMetadata(prefix) {
      const text = (await wranglerOutput(["kv", "key", "list", "--prefix", prefix, ...where])).toString("utf8");
      const json = text.slice(text.indexOf("["), text.lastIndexOf("]") + 1);
      return (JSON.parse(json) as { name: string; metadata?: unknown }[]).map((k) => ({
        name: k.name,
        metadata: k.metadata ?? null,
      }));
    },
  };
}

function runWrangler(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn("npx", ["wrangler", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else {
        const msg = Buffer.concat(err).toString("utf8") || Buffer.concat(out).toString("utf8");
        reject(new Error(`wrangler ${args.slice(0, 3).join(" ")} failed: ${msg.trim()}`));
      }
    });
  });
}

function wrangler(args: string[]): void {
  const res = spawnSync("npx", ["wrangler", ...args], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (res.status !== 0) throw new Error(`wrangler ${args.slice(0, 3).join(" ")} failed: ${res.stderr || res.stdout}`);
}
