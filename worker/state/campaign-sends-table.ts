/**
 * The reader shard's campaign sends (`campaign_sends`): for each reader and campaign, when `npm run email` last
 * built that campaign's message for them (POST /v1/admin/sends), so that the reader's frequency preference spaces
 * the shop's campaigns as it spaces triggered sends (core/triggers.ts FREQUENCY_DAYS). One row per (reader,
 * campaign): `sent_at`, the latest build (what a preference counts, every campaign's and trigger's), and
 * `issued_at`, when this issue of the campaign was first built. A build within REBUILD_WINDOW_S of the first
 * is that issue again (a template fixed, a run stopped part way): it moves `sent_at` on, never adds a send, and never
 * counts against that campaign itself (the suppression check and the recording leave it out); one later is the
 * campaign's next issue (the same id sent again a day or a week on), which counts the last build as any other
 * campaign's send. Rows older than the longest preference (30 days) can hold nothing back: each recording deletes
 * the shard's expired rows, and the shard's alarm (set within a day of the oldest row's expiry) deletes them however
 * quiet the shard. Erasure deletes the reader's rows. Synchronous SQL on the shard's storage; the shard is the only
 * writer.
 */
import { FREQUENCY_DAYS } from "../../core/triggers";

export const CAMPAIGN_SENDS_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS campaign_sends (
     user TEXT NOT NULL, campaign TEXT NOT NULL, sent_at INTEGER NOT NULL, issued_at INTEGER,
     PRIMARY KEY (user, campaign)) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS campaign_sends_at ON campaign_sends (sent_at)",
];

/**
 * Brings a table of an earlier version (no `issued_at`: a rebuild kept the first time in `sent_at`) to this
 * one: each row's issue began at its `sent_at`.
 */
export function migrateCampaignSends(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('campaign_sends')").toArray();
  if (columns.some((c) => c.name === "issued_at")) return;
  sql.exec("ALTER TABLE campaign_sends ADD COLUMN issued_at INTEGER");
  sql.exec("UPDATE campaign_sends SET issued_at = sent_at");
}

/** How long a send is kept (s): the longest frequency preference; an older send allows every preference. */
export const SENDS_KEPT_S = Math.max(...Object.values(FREQUENCY_DAYS)) * 86_400;

/**
 * Records the campaign's build for the reader at `nowS` (inside the caller's transaction). A build of the same
 * campaign less than REBUILD_WINDOW_S after its issue's first is that issue built again (a template fixed in the
 * evening): the issue keeps its first time, so the campaign's next issue the next morning is not taken for it, and
 * the send's time moves to this build, which a preference counts from (a daily reader mailed by the 20:00 rebuild
 * gets no trigger at 09:00). One later is the next issue: both times are this build's.
 */
export function recordCampaignSend(sql: SqlStorage, user: string, campaign: string, nowS: number): void {
  sql.exec(
    `INSERT INTO campaign_sends (user, campaign, sent_at, issued_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (user, campaign) DO UPDATE SET
       issued_at = CASE WHEN excluded.sent_at - issued_at < ${REBUILD_WINDOW_S}
         THEN issued_at ELSE max(issued_at, excluded.sent_at) END,
       sent_at = max(sent_at, excluded.sent_at)`,
    user,
    campaign,
    nowS,
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
 * How long after an issue's first build a build of the same campaign is that issue again (s): a campaign built again
 * within this (a run stopped part way, a template fixed) is the same send, and never held back by itself; built
 * again later (the same id reused every day or week, as a shop's `daily-deals`), its last build counts as any other
 * campaign's send does. 20 hours: a daily send at a fixed hour is past it.
 */
export const REBUILD_WINDOW_S = 20 * 3600;

/**
 * The reader's latest recorded campaign send (unix s), or null: every campaign's, but `building`'s only when its
 * issue began REBUILD_WINDOW_S or more before `nowS` (a rebuild of the campaign being built is that send again).
 */
export function lastCampaignSend(
  sql: SqlStorage,
  user: string,
  building?: { campaign: string; nowS: number },
): number | null {
  return (
    sql
      .exec<{ at: number | null }>(
        "SELECT max(sent_at) AS at FROM campaign_sends WHERE user = ? AND (campaign IS NOT ? OR issued_at <= ?)",
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
