/**
 * What an operator does with parked dead letters (worker/state/parked-table.ts, kept by the dead-letter consumer
 * in the reader's shard): list them, replay them (the shard applies them as the events consumer would have and
 * deletes those it settles; ones it still rejects stay parked) or delete them. A selection names one reader
 * (some of their event ids, or all) or one shard, and walks it a page at a time with an opaque cursor (the last
 * key, base64url). A replayed opt-out of tracking that takes effect has the reader's decisions deleted by the
 * shard's apply, as for the consumers. The admin routes call these.
 */
import { z } from "zod";
import { base64UrlToBytes, bytesToBase64Url } from "../../core/base64";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import type { ParkedKey, ParkedQuery } from "../state/parked-table";
import { readerStub, shardOf, shardStub } from "../state/shard-routing";
import type { DeadLetterListQuery, DeadLetterSelection } from "./dead-letter-selection";

function encodeCursor(key: ParkedKey | null): string | null {
  return key && bytesToBase64Url(new TextEncoder().encode(JSON.stringify([key.user, key.id])));
}

const CursorSchema = z.tuple([z.string(), z.string()]);

function decodeCursor(cursor: string | undefined): ParkedKey | undefined {
  if (cursor === undefined) return undefined;
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64UrlToBytes(cursor));
    const [user, id] = CursorSchema.parse(JSON.parse(text));
    return { user, id };
  } catch {
    throw new ApiError("BAD_REQUEST", "cursor: not one this API answered");
  }
}

/** The shard a selection names, and the query it sends there. */
function target(
  env: Bindings,
  s: { user?: string; shard?: number; ids?: readonly string[]; cursor?: string; limit: number },
) {
  const shard = s.user === undefined ? (s.shard as number) : shardOf(s.user);
  const stub = s.user === undefined ? shardStub(env, shard) : readerStub(env, s.user);
  const query: ParkedQuery = {
    limit: s.limit,
    ...(s.user !== undefined && { user: s.user }),
    ...(s.ids && { ids: s.ids }),
    ...(s.cursor !== undefined && { after: decodeCursor(s.cursor) }),
  };
  return { shard, stub, query };
}

export async function listDeadLetters(env: Bindings, s: z.infer<typeof DeadLetterListQuery>) {
  const { shard, stub, query } = target(env, s);
  const page = await stub.parked(query);
  return {
    shard,
    count: page.count,
    events: page.entries.map((e) => ({ user: e.user, id: e.id, parked_at: e.parkedAt, event: e.event })),
    cursor: encodeCursor(page.next),
  };
}

export async function replayDeadLetters(env: Bindings, s: DeadLetterSelection) {
  const { shard, stub, query } = target(env, s);
  const page = await stub.replayParked(query);
  return {
    shard,
    replayed: page.replayed.map(({ user, id, type, outcome }) => ({ user, id, type, outcome })),
    /** still parked: the reader's, or the shard's */
    count: page.count,
    cursor: encodeCursor(page.next),
  };
}

export async function deleteDeadLetters(env: Bindings, s: DeadLetterSelection) {
  const { shard, stub, query } = target(env, s);
  const { deleted, count } = await stub.dropParked(query);
  return { shard, deleted, count };
}
