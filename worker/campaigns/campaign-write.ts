/**
 * What a campaign write asks and how it is decided, the same in the campaigns' one writer (the CampaignWriter
 * Durable Object) and, without its binding, in the route itself: a create refuses an id that holds a campaign
 * (409 CAMPAIGN_EXISTS); a replace sent with `If-Match` refuses a campaign whose tag is not one of those given,
 * and one sent with `If-None-Match: *` a campaign that is stored (412 CAMPAIGN_CHANGED: another edit landed since
 * the editor read it); a write (create or replace) of the campaign stored, compared as this Worker stores it
 * (sameAsStored), changes nothing and succeeds, so a retried edit or create that landed (its answer lost, or a 503
 * whose write landed) is not refused by its own success; the answer carries the tag.
 */
import { parseCampaignText } from "../../core/campaign";
import { unavailableKv } from "../errors";
import { entityTag, type IfMatch, matches } from "../lib/entity-tag";
import { KvDeadlineError } from "../lib/kv-deadline";
import { errorMessage } from "../lib/log";

export interface CampaignWrite {
  id: string;
  /** the campaign as stored (JSON) */
  text: string;
  mode: "create" | "replace";
  ifMatch: IfMatch;
}

/** The stored JSON as the writer sees it (null: none stored) and its tag. */
export interface StoredCampaignText {
  text: string | null;
  etag: string | null;
}

export type CampaignWriteAnswer =
  | {
      ok: true;
      created: boolean;
      etag: string;
      /** false: what is stored was this campaign, compared as stored (sameAsStored): nothing written */
      written: boolean;
    }
  | {
      ok: false;
      code: "CAMPAIGN_EXISTS" | "CAMPAIGN_CHANGED";
      message: string;
    }
  | {
      ok: false;
      /** KV could not be read (nothing written) or did not say it took the campaign, for a passing reason */
      code: "KV_UNAVAILABLE";
      message: string;
      /** false: KV could not be read, nothing was written; true: the write was sent and not confirmed (it may be stored) */
      sent: boolean;
      /** seconds (worker/errors.ts unavailableKv) */
      retryAfter: number;
    };

/**
 * Reads what is stored, decides, and writes when the write may be made: the writer's steps over its storage
 * (`read`: the stored campaign; `put`: stores the JSON), KV's passing failure of either answered as
 * KV_UNAVAILABLE; any other error (our own bug) is thrown, for the one error handler's 500.
 */
export async function decideWrite(
  write: CampaignWrite,
  read: () => Promise<StoredCampaignText>,
  put: (text: string) => Promise<void>,
): Promise<CampaignWriteAnswer> {
  let current: StoredCampaignText;
  try {
    current = await read();
  } catch (e) {
    const kv = unavailableKv(e);
    if (!kv) throw e;
    return {
      ok: false,
      code: "KV_UNAVAILABLE",
      message: `KV could not be read, nothing was written: ${errorMessage(e)}`,
      sent: false,
      retryAfter: kv.retryAfter,
    };
  }
  // a write of the campaign the id holds, compared as stored (a retried edit that landed; a create retried after its
  // answer was lost or its 503's write landed): answered as made, with the stored tag, nothing written
  if (current.etag !== null && sameAsStored(current.text, write.text))
    return { ok: true, created: false, etag: current.etag, written: false };
  const refusal = writeRefusal(write, current);
  if (refusal) return refusal;
  try {
    await put(write.text);
  } catch (e) {
    const kv = unavailableKv(e);
    if (!kv) throw e;
    // held back (the writer's ordered writes: an earlier write of the key given up on has not settled): never sent
    const held = e instanceof KvDeadlineError && e.behind;
    return {
      ok: false,
      code: "KV_UNAVAILABLE",
      message: held
        ? `KV could not take the campaign now, nothing was written: ${errorMessage(e)}`
        : `KV did not say it took the campaign (it may have been stored: the same write sent again is answered as made): ${errorMessage(e)}`,
      sent: !held,
      retryAfter: kv.retryAfter,
    };
  }
  return { ok: true, created: current.text === null, etag: await entityTag(write.text), written: true };
}

/**
 * Whether the stored JSON (`stored`) is the campaign `text` (a campaign as the writer stores it: the body parsed,
 * a version 1 migrated, defaults filled in, JSON.stringify'd; nothing added) as this Worker reads it: the same
 * text, or one that parses to it (written in other bytes by another writer, `npm start`'s demo). Stored JSON that
 * does not parse as a campaign (its opens get the defaults) is never the same.
 */
export function sameAsStored(stored: string | null, text: string): boolean {
  if (stored === null) return false;
  if (stored === text) return true;
  const parsed = parseCampaignText(stored);
  return parsed.success && JSON.stringify(parsed.data) === text;
}

/** The stored JSON's tag (null: none stored). */
export async function storedText(text: string | null): Promise<StoredCampaignText> {
  return { text, etag: text === null ? null : await entityTag(text) };
}

/** The refusal of `write` over what is stored, or null when it may be written. */
function writeRefusal(write: CampaignWrite, current: StoredCampaignText): CampaignWriteAnswer | null {
  if (write.mode === "create" && current.text !== null)
    return {
      ok: false,
      code: "CAMPAIGN_EXISTS",
      message: `campaign ${write.id} exists: PUT /v1/admin/campaigns/${write.id} replaces it`,
    };
  if (!matches(write.ifMatch, current.etag))
    return {
      ok: false,
      code: "CAMPAIGN_CHANGED",
      message:
        current.etag === null
          ? `campaign ${write.id} is not stored: If-Match names a campaign that is not there`
          : write.ifMatch === "absent"
            ? `campaign ${write.id} was stored since it was read (If-None-Match: *; its ETag is ${current.etag}): read it again, then edit`
            : `campaign ${write.id} changed since it was read (its ETag is now ${current.etag}): read it again, then edit`,
    };
  return null;
}
