/**
 * Which ReaderShard holds a reader: FNV-1a of the user id over a fixed number of shards. READER_SHARDS is part
 * of the data's address: changing it would move readers to shards that do not hold their state, so it is a
 * constant, not a setting (README, "State": why 16, and what it costs).
 */
import { fnv1a32 } from "../../core/fnv";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import type { ReaderShard } from "./reader-shard";
import { READER_SHARDS } from "./shard-count";

export { READER_SHARDS };

/** The shard of a reader: FNV-1a of the user id (core/fnv.ts) modulo the shard count. */
export function shardOf(userId: string, shards = READER_SHARDS): number {
  return fnv1a32(userId) % shards;
}

export function shardStub(env: Pick<Bindings, "READERS">, shard: number): DurableObjectStub<ReaderShard> {
  // a deploy without the binding is told so (503 STATE_UNAVAILABLE naming it), not a bare 500 INTERNAL
  if (!env.READERS) throw new ApiError("STATE_UNAVAILABLE", "the READERS Durable Object binding is not configured");
  return env.READERS.get(env.READERS.idFromName(`readers-${shard}`));
}

export function readerStub(env: Pick<Bindings, "READERS">, userId: string): DurableObjectStub<ReaderShard> {
  return shardStub(env, shardOf(userId));
}

/** Items grouped by their reader's shard (`userOf`), each group in the items' order. */
export function byShard<T>(items: Iterable<T>, userOf: (item: T) => string): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const item of items) {
    const shard = shardOf(userOf(item));
    const group = out.get(shard);
    if (group) group.push(item);
    else out.set(shard, [item]);
  }
  return out;
}
