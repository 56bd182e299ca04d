/**
 * The reader shard's campaign sends (`campaign_sends`): for each reader and campaign, when `npm run email` last
 * built that campaign's message for them (POST /v1/admin/sends), so that the reader's frequency preference spaces
 * the shop's campaigns as it spaces triggered sends (core/triggers.ts FREQUENCY_DAYS). One row per (reader,
 * campaign): a rebuild of the same campaign within REBUILD_WINDOW_S keeps the send's time, never adds one, and never
 * counts against that campaign itself (the suppression check and the recording leave it out; older, the same id sent
 * again a day or a week on, it counts as any other campaign's send). Rows older than the longest
 * preference (30 days) can hold nothing back: each recording deletes the shard's expired rows, and the shard's
 * alarm (set within a day of the oldest row's expiry) deletes them however quiet the shard. Erasure deletes the
 * reader's rows. Synchronous SQL on the shard's storage; the shard is the only writer.
 */
import { FREQUENCY_DAYS } from "../../core/triggers";

export const CAMPAIGN_SENDS_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS campaign_sends (
     user TEXT NOT NULL, campaign TEXT NOT NULL, sent_at INTEGER NOT NULL,
     PRIMARY KEY (user, campaign)) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS campaign_sends_at ON campaign_sends (sent_at)",
];

/** How long a send is kept (s): the longest frequency preference; an older send allows every preference. */
export const SENDS_KEPT_S = Math.max(...Object.values(FREQUENCY_DAYS)) * 86_400;

/**
 * Records the campaign's send to the reader at `nowS` (inside the caller's transaction). A send of the same
 * campaign recorded less than REBUILD_WINDOW_S before is this one built again (a template fixed in the evening):
 * it keeps its time, so the campaign's next issue the next morning counts it as sent the day before, not as the
 * same send rebuilt. One recorded earlier is an earlier issue: this one's time replaces it.
 */
export function recordCampaignSend(sql: SqlStorage, user: string, campaign: string, nowS: number): void {
  sql.exec(
    `INSERT INTO campaign_sends (user, campaign, sent_at) VALUES (?, ?, ?)
     ON CONFLICT (user, campaign) DO UPDATE SET sent_at = CASE WHEN excluded.sent_at - sent_at < ${REBUILD_WINDOW_S}
       THEN sent_at ELSE max(sent_at, excluded.sent_at) END`,
    user,
    campaign,
    nowS,
  );
}

/** Deletes the sends too old to hold anything back; the rows deleted. */
export function pruneCampaignSends(sql: SqlStorage, nowS: number): number {
  return sql.exec("DELETE FROM campaign_sends WHERE sent_at < ?", nowS - SENDS_KEPT_S).rowsWritten;
}

/** When the oldest send expires (ms), or null when none is held. */
export function nextCampaignSendExpiry(sql: SqlStorage): number | null {
  const at = sql.exec<{ at: number | null }>("SELECT min(sent_at) AS at FROM campaign_sends").one().at;
  return at === null ? null : (at + SENDS_KEPT_S) * 1000;
}

/**
 * How long a send of a campaign counts as the same build of it (s): a campaign built again within this (a run
 * stopped part way, a template fixed) is the same send, and never held back by itself; built again later (the same
 * id reused every day or week, as a shop's `daily-deals`), its earlier send counts as any other campaign's does.
 * 20 hours: a daily send at a fixed hour is past it.
 */
export const REBUILD_WINDOW_S = 20 * 3600;

/**
 * The reader's latest recorded campaign send (unix s), or null: every campaign's, but `building`'s only when it was
 * recorded REBUILD_WINDOW_S or more before `nowS` (a rebuild of the campaign being built is that send again).
 */
export function lastCampaignSend(
  sql: SqlStorage,
  user: string,
  building?: { campaign: string; nowS: number },
): number | null {
  return (
    sql
      .exec<{ at: number | null }>(
        "SELECT max(sent_at) AS at FROM campaign_sends WHERE user = ? AND (campaign IS NOT ? OR sent_at <= ?)",
        user,
        building?.campaign ?? null,
        building ? building.nowS - REBUILD_WINDOW_S : 0,
      )
      .one().at ?? null
  );
}

/** The reader's recorded sends, newest first (right of access). */
export function campaignSendsOf(sql: SqlStorage, user: string): { campaign: string; sentAt: number }[] {
  return sql
    .exec<{ campaign: string; sent_at: number }>(
      "SELECT campaign, sent_at FROM campaign_sends WHERE user = ? ORDER BY sent_at DESC, campaign",
      user,
    )
    .toArray()
    .map((r) => ({ campaign: r.campaign, sentAt: r.sent_at }));
}

/** Erasure: the reader's sends go (inside the caller's transaction); the rows deleted. */
export function deleteCampaignSends(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM campaign_sends WHERE user = ?", user).rowsWritten;
}
