/**
 * What the shop's list reads to learn who unsubscribed, paused or chose a frequency (GET /v1/admin/suppressions): every reader
 * shard's list changes (worker/state/list-changes-table.ts), walked shard by shard in each shard's order, a page
 * at a time. The cursor is where the walk stands in every shard (its last sequence number read), the `since` it
 * began with, and each shard's last number when it began: a caller keeps the last cursor and asks again with it
 * later, and gets exactly the changes applied since (a reader changed again comes again, with their state then),
 * whatever the clocks. `since` (a time) only starts a walk: it leaves out changes the shards held when the walk
 * began, never one made after (a `since` ahead of the clocks hides nothing to come). A cursor ahead of a shard's
 * last number (another deployment's, or a shard begun again) is refused: it would skip that shard's changes. The
 * query and the answer: worker/suppressions/list-changes-query.ts.
 */
import { z } from "zod";
import { base64UrlToBytes, bytesToBase64Url } from "../../core/base64";
import { storablePause } from "../../core/profile";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { READER_SHARDS } from "../state/shard-count";
import { shardStub } from "../state/shard-routing";
import type { ListChangesAnswerSchema, ListChangesQuery } from "./list-changes-query";

type ListChangeOut = z.infer<typeof ListChangesAnswerSchema>["changes"][number];

/**
 * Where a walk stands: the time it began from (ms) and, per shard, the last sequence number read and the last one
 * the shard had when the walk began (`since` applies up to it only).
 */
interface Position {
  since: number;
  seqs: number[];
  floors: number[];
}

const CursorSchema = z.object({
  s: z.number().int().nonnegative(),
  q: z.array(z.number().int().nonnegative()).length(READER_SHARDS),
  // absent in a cursor of the version before: `since` then applies to nothing after where it stands
  f: z.array(z.number().int().nonnegative()).length(READER_SHARDS).optional(),
});

function encodeCursor(p: Position): string {
  return bytesToBase64Url(new TextEncoder().encode(JSON.stringify({ s: p.since, q: p.seqs, f: p.floors })));
}

function decodeCursor(cursor: string): Position {
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64UrlToBytes(cursor));
    const { s, q, f } = CursorSchema.parse(JSON.parse(text));
    return { since: s, seqs: q, floors: f ?? [...q] };
  } catch {
    throw new ApiError("BAD_REQUEST", "cursor: not one this API answered");
  }
}

export async function readListChanges(
  env: Bindings,
  q: z.infer<typeof ListChangesQuery>,
): Promise<z.infer<typeof ListChangesAnswerSchema>> {
  // a walk's first read asks every shard (room or none) for its last number: `since` applies up to it only
  const starting = !q.cursor;
  const at: Position = q.cursor
    ? decodeCursor(q.cursor)
    : {
        since: q.since ? Math.max(0, Date.parse(q.since)) : 0,
        seqs: new Array(READER_SHARDS).fill(0),
        floors: new Array(READER_SHARDS).fill(Number.MAX_SAFE_INTEGER),
      };
  const changes: ListChangeOut[] = [];
  let more = false;
  for (let shard = 0; shard < READER_SHARDS; shard++) {
    const room = q.limit - changes.length;
    if (room === 0) more = true;
    if (room === 0 && !starting) break;
    const after = at.seqs[shard] as number;
    const page = await shardStub(env, shard).listChanges(after, at.floors[shard] as number, at.since, room);
    if (after > page.last)
      throw new ApiError(
        "BAD_REQUEST",
        `cursor: ahead of shard ${shard}'s changes (another deployment's cursor, or the shard began again): start a new read with since`,
      );
    if (starting) at.floors[shard] = page.last;
    for (const c of page.changes)
      changes.push({
        user: c.user,
        unsubscribed: c.unsubscribed,
        // (a pause an earlier version stored outside 0..MAX_PAUSE_SECONDS, past Date's range too, read as in range)
        pausedUntil: c.pausedUntil === null ? null : new Date(storablePause(c.pausedUntil) * 1000).toISOString(),
        frequency: c.frequency,
        changedAt: new Date(c.changedAt).toISOString(),
      });
    at.seqs[shard] = page.next;
    // a full page may have stopped short of the shard's end
    if (room > 0 && page.changes.length === room) more = true;
  }
  return { changes, cursor: encodeCursor(at), more };
}
