/**
 * Campaign edits, made by the campaigns' one writer (the CampaignWriter Durable Object, `campaigns`): the
 * editors' read (the stored campaign with its ETag, the writer's last write included) and their write (a
 * create, or a replace checked against `If-Match`), refused with the API's 409 CAMPAIGN_EXISTS, 412
 * CAMPAIGN_CHANGED, or 503 KV_UNAVAILABLE / STATE_UNAVAILABLE for a passing failure (a bug is the one handler's 500);
 * a write's KV_UNAVAILABLE (CampaignNotSaved) says whether the write was sent. Without the CAMPAIGN_WRITER binding (a wrangler.toml from before it)
 * the edit is made here over KV, unserialized, and says so in the log.
 */
import type { Campaign } from "../../core/campaign";
import { kvKeys } from "../../core/kv-keys";
import { campaignFromText, forgetCampaign } from "../decisions/campaign-store";
import type { Bindings } from "../env";
import { ApiError, unavailableAs } from "../errors";
import type { IfMatch } from "../lib/entity-tag";
import { errorMessage, logEvent } from "../lib/log";
import {
  type CampaignWrite,
  type CampaignWriteAnswer,
  decideWrite,
  type StoredCampaignText,
  storedText,
} from "./campaign-write";

export interface EditedCampaign {
  campaign: Campaign;
  /** whether a campaign is stored under the id (else `campaign` is the defaults) */
  stored: boolean;
  /** the stored campaign's ETag, null when none is stored */
  etag: string | null;
}

/**
 * A campaign write KV failed for a passing reason (the route's 503 KV_UNAVAILABLE): `sent` false, KV could not be
 * read and nothing was written; true, the write was sent and KV did not confirm it (it may be stored).
 */
export class CampaignNotSaved extends ApiError {
  constructor(
    message: string,
    retryAfter: number,
    readonly sent: boolean,
  ) {
    super("KV_UNAVAILABLE", message, { "Retry-After": String(retryAfter) });
  }
}

/** The campaign an editor starts from. */
export async function campaignForEdit(env: Bindings, id: string): Promise<EditedCampaign> {
  let read: StoredCampaignText;
  try {
    read = env.CAMPAIGN_WRITER ? await writer(env).read(id) : await readKv(env.OPENTIME_KV, id);
  } catch (e) {
    // a passing failure of KV or of the writer is the route's 503; any other error, a bug, the one handler's 500
    throw unavailableAs(e, {
      KV_UNAVAILABLE: `the campaign could not be read: ${errorMessage(e)}`,
      STATE_UNAVAILABLE: "the campaigns' writer could not be reached to read the campaign: retry",
    });
  }
  return { campaign: campaignFromText(id, read.text), stored: read.text !== null, etag: read.etag };
}

/**
 * Stores `campaign` under `id`; `create` refuses a stored one (unless it is this campaign: a retried create),
 * `ifMatch` one whose tag differs (or, `absent`, any stored one). Writing the campaign stored, compared as stored,
 * succeeds without a write (`written` false).
 */
export async function saveCampaign(
  env: Bindings,
  id: string,
  campaign: Campaign,
  mode: CampaignWrite["mode"],
  ifMatch: IfMatch,
): Promise<{ created: boolean; etag: string; written: boolean }> {
  const write: CampaignWrite = { id, text: JSON.stringify(campaign), mode, ifMatch };
  const answer = env.CAMPAIGN_WRITER ? await writer(env).write(write) : await unserialized(env.OPENTIME_KV, write);
  forgetCampaign(id);
  if (!answer.ok) {
    if (answer.code === "KV_UNAVAILABLE") throw new CampaignNotSaved(answer.message, answer.retryAfter, answer.sent);
    throw new ApiError(answer.code, answer.message);
  }
  return { created: answer.created, etag: answer.etag, written: answer.written };
}

function writer(env: Bindings) {
  const ns = env.CAMPAIGN_WRITER as NonNullable<Bindings["CAMPAIGN_WRITER"]>;
  return ns.get(ns.idFromName("campaigns"));
}

async function readKv(kv: KVNamespace, id: string): Promise<StoredCampaignText> {
  return storedText(await kv.get(kvKeys.campaign(id), "text"));
}

function unserialized(kv: KVNamespace, write: CampaignWrite): Promise<CampaignWriteAnswer> {
  logEvent("warn", "campaign.write_unserialized", { detail: "no CAMPAIGN_WRITER binding: see wrangler.toml" });
  return decideWrite(
    write,
    () => readKv(kv, write.id),
    (text) => kv.put(kvKeys.campaign(write.id), text),
  );
}
