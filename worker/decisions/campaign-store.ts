/**
 * Campaigns (core/campaign.ts) in KV under `campaign:<id>`. Their one writer is the CampaignWriter object
 * (worker/state/campaign-writer.ts, through worker/campaigns/campaign-edits.ts; an edit replaces the whole
 * campaign). Opens read them through a per-isolate cache of a minute (at most MAX_CACHED campaigns, the oldest
 * goes first), so an edit reaches every open within about a minute (KV's own propagation included); the
 * preview's views read KV itself (readCampaign), leaving that cache alone, and the editors (the admin API, the
 * preview's editor) and the subjects API (a send's subject lines are written for good) read through the writer.
 * A stored version-1 campaign is migrated as it is read. A missing or invalid entry means the defaults:
 * an email endpoint never fails over settings. A read that fails keeps the campaign the isolate had (the opens'
 * cache, worker/lib/isolate-cache.ts), tried again 5 s later; with none, the defaults for those 5 s.
 */
import { type Campaign, CampaignIdSchema, DEFAULT_CAMPAIGN, parseCampaignText } from "../../core/campaign";
import { kvKeys } from "../../core/kv-keys";
import { ApiError, unavailableKv } from "../errors";
import { type CacheRead, IsolateCache } from "../lib/isolate-cache";
import { errorMessage, logEvent } from "../lib/log";
import { describeIssues } from "../lib/zod-issues";

const TTL_MS = 60_000;
const MAX_CACHED = 500;
const cache = new IsolateCache<Campaign>(TTL_MS, MAX_CACHED);

export function resetCampaignCache(): void {
  cache.clear();
}

/** How many campaigns this isolate holds (tests: the cache is bounded). */
export function campaignCacheSize(): number {
  return cache.size;
}

/** An open's read: through the isolate's cache (a minute). */
export async function getCampaign(kv: KVNamespace, id: string, now = Date.now()): Promise<Campaign> {
  if (!CampaignIdSchema.safeParse(id).success) return DEFAULT_CAMPAIGN;
  return cache.get(id, now, () => loadCampaign(kv, id));
}

/** The admin API's and the preview's read: KV as it is now, leaving the opens' cache alone. */
export async function readCampaign(kv: KVNamespace, id: string): Promise<Campaign> {
  return (await readCampaignOrUnknown(kv, id)) ?? DEFAULT_CAMPAIGN;
}

/** As readCampaign, but null when KV cannot be read (logged), for a caller to whom the defaults are not "unknown". */
export async function readCampaignOrUnknown(kv: KVNamespace, id: string): Promise<Campaign | null> {
  if (!CampaignIdSchema.safeParse(id).success) return DEFAULT_CAMPAIGN;
  const read = await loadCampaign(kv, id);
  return read.ok ? read.value : null;
}

async function loadCampaign(kv: KVNamespace, id: string): Promise<CacheRead<Campaign>> {
  let text: string | null;
  try {
    text = await kv.get(kvKeys.campaign(id), "text");
  } catch (e) {
    logEvent("error", "campaign.read_failed", { campaign: id, detail: errorMessage(e) });
    return { ok: false, fallback: DEFAULT_CAMPAIGN };
  }
  return { ok: true, value: campaignFromText(id, text) };
}

/** A stored campaign's JSON as it serves (a version 1 migrated); the defaults when none is stored or it is invalid. */
export function campaignFromText(id: string, text: string | null): Campaign {
  if (text === null) return DEFAULT_CAMPAIGN;
  const parsed = parseCampaignText(text);
  if (parsed.success) return parsed.data;
  const detail = parsed.error instanceof SyntaxError ? errorMessage(parsed.error) : describeIssues(parsed.error);
  logEvent("error", "campaign.invalid", { campaign: id, detail });
  return DEFAULT_CAMPAIGN;
}

/** Forgets this isolate's copy of a campaign just written (its other isolates keep theirs up to a minute). */
export function forgetCampaign(id: string): void {
  cache.delete(id);
}

/** Campaign ids stored, in key order, a page at a time (KV list). */
export async function listCampaigns(
  kv: KVNamespace,
  limit: number,
  cursor?: string,
): Promise<{ ids: string[]; cursor: string | null }> {
  const prefix = kvKeys.campaign("");
  let page: KVNamespaceListResult<unknown, string>;
  try {
    page = await kv.list({ prefix, limit, ...(cursor && { cursor }) });
  } catch (e) {
    // KV refuses a cursor it did not hand out; a passing failure (rate limit, KV's own error, a deadline) stays what
    // it is, a 503 to retry, whether or not the request had a cursor
    if (cursor && !unavailableKv(e)) throw new ApiError("BAD_REQUEST", "cursor: not a cursor this list returned");
    throw e;
  }
  return {
    ids: page.keys.map((k) => k.name.slice(prefix.length)),
    cursor: page.list_complete ? null : ((page as { cursor?: string }).cursor ?? null),
  };
}
