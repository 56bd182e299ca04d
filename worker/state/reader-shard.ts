/**
 * ReaderShard: the one writer of reader state, a SQLite-backed Durable Object. Readers are spread over a
 * fixed set of shards (worker/state/shard-routing.ts); each shard holds, for its readers:
 *   readers     the profile (JSON), its consent clock, whether the edge snapshot is behind, and, for a reader who
 *               came back after an erasure, when, until their tombstone ends (tombstone-table.ts)
 *   applied     every applied event id (primary key (user, id)): exact idempotency, no window; a consent change
 *               keeps none (its clock makes applying it again change nothing: core/apply-events.ts), and the
 *               pixel's expire (worker/state/applied-table.ts)
 *   tombstones  erased readers (by erasure hash), until their tokens have expired, and when they came back
 *               (tombstone-table.ts)
 *   parked      dead letters (events the consumer gave up on), kept for an operator until the reader is erased
 *               or turns tracking off (worker/state/parked-table.ts); listed, replayed or deleted by the admin API
 *   triggers    each reader's pending trigger deliveries (worker/state/trigger-table.ts), moved by their events
 *               in the same transaction and delivered by the alarm (worker/triggers/deliver.ts)
 *   views       what each reader viewed lately (worker/state/views-table.ts), written with their view events
 *   cart_items  each reader's cart items lately, the latest add's and remove's times, written with their cart
 *               events before the triggers move (worker/state/cart-items-table.ts)
 *   catalog_seq the last catalog change applied (worker/state/catalog-inbox.ts): the catalog writer's fan-out
 *               (`catalogChanged`) starts viewed-* deliveries for the readers who viewed the items
 *   experiment_outbox  exposures and attributed outcomes their events made, and erasures, until the experiment
 *               store (D1) has them (worker/state/experiment-outbox.ts)
 *   recent_outcomes  each reader's clicks and purchases applied in the last two days, credited to an exposure
 *               applied after them (worker/state/outcomes-table.ts)
 *   recent_clicks  each reader's clicks from the click route in the last two days, which tell a link scanner's
 *               from the reader's: a scanner's is recorded apart, and one applied before a burst showed it to be a
 *               scanner's is undone in the transaction that finds it (worker/state/clicks-table.ts)
 *   decision_sweeps  readers erased or gone tracking-off lately, whose KV decisions the alarm deletes again
 *               (worker/state/decision-sweeps.ts): one written just after the first deletion goes too
 *   list_changes  each reader's latest change of `unsubscribed`, `pausedUntil` or `frequency`, numbered, for the
 *               shop's list to follow (worker/state/list-changes-table.ts), written with the change; for a
 *               reader it holds no profile of (erased, or never known), an unsubscribe is this row alone, a
 *               suppression (worker/state/suppression-only.ts; the suppression check asks: listStates)
 *   campaign_sends  when `npm run email` last built each campaign for each reader, the last 30 days
 *               (worker/state/campaign-sends-table.ts), which their frequency preference counts with their
 *               triggered sends (the suppression check asks: latestSends)
 * A call applies a whole queue batch's events for the shard in one transaction. Nothing else writes these.
 *
 * The edge never waits on a shard: after a commit the shard publishes the reader's profile to KV
 * (`profile:<user>`, what every open reads), at most once a second per reader; a reader changed again within
 * the second (or whose write failed) is published by the alarm. Publishes are serialized per shard, so the
 * last write to a key is always the newest profile (a write given up on at its KV deadline settles before the key
 * is written again: every KV operation here has one, lib/kv-deadline.ts OBJECT_KV_DEADLINES). A reader the shard has never seen is imported once from KV (`profile:<user>`
 * and `seen:<user>`, the state before this writer existed), so upgrading loses nothing.
 */
import { DurableObject } from "cloudflare:workers";
import {
  applyEventsSafely,
  type ConsentClock,
  exposuresMade,
  mayRecordAt,
  withoutClick,
} from "../../core/apply-events";
import { type BasePrice, type CatalogChange, stillHolds, viewedTriggers } from "../../core/catalog-changes";
import { erasureHash } from "../../core/erasure-key";
import { isPixelId, type QueuedEvent } from "../../core/events";
import { inGlobalHoldout } from "../../core/experiments/assignment";
import {
  GLOBAL_ATTRIBUTION_DAYS,
  GLOBAL_HOLDOUT_ARMS,
  GLOBAL_HOLDOUT_ID,
  type GlobalHoldout,
} from "../../core/experiments/experiment";
import {
  ANY_CAMPAIGN,
  exposureEventId,
  INITIAL_PHASE,
  lateAttributedRows,
  windowsStarted,
} from "../../core/experiments/exposure";
import { kvKeys } from "../../core/kv-keys";
import { recordablePart } from "../../core/opt-out";
import { MIN_SECRET_LENGTH } from "../../core/placeholder-secret";
import { emptyProfile, type Profile, parseProfile, salvageConsent, salvageProfile } from "../../core/profile";
import { campaignAllows, listSuppressionOf, type SuppressionReason } from "../../core/suppressions";
import {
  type CancelReason,
  consentStops,
  consentStopsNew,
  pauseEnd,
  type Trigger,
  type TriggersConfig,
  type ViewedItem,
} from "../../core/triggers";
import { basePrices } from "../catalog/base-prices";
import { getLiveCatalog, type LiveCatalogView } from "../catalog/live-catalog";
import { type Bindings, getConfig } from "../env";
import {
  deleteDecisions,
  deleteOwnKeys,
  deleteSnapshot,
  KvBudget,
  tombstoneKeys,
  writeTombstone,
} from "../events/erasure";
import { type StoreRow, writeRows } from "../experiments/experiment-db";
import { knownGlobalHoldout } from "../experiments/experiment-store";
import { objectEnv } from "../lib/bounded-env";
import { SAME_KEY_WRITE_MS } from "../lib/key-pacer";
import { KvDeadlineError, type KvDeadlines, writesSettled } from "../lib/kv-deadline";
import { errorMessage, logEvent } from "../lib/log";
import { deliver, deliveryRef } from "../triggers/deliver";
import { getTriggers } from "../triggers/trigger-config";
import {
  APPLIED_SCHEMA,
  appliedOf,
  deleteApplied,
  forgetApplied,
  migrateAppliedTable,
  nextAppliedExpiry,
  PIXEL_IDS_KEPT_MS,
  pruneAppliedIds,
  recordApplied,
  trimPixelIds,
  wasApplied,
} from "./applied-table";
import {
  CAMPAIGN_SENDS_SCHEMA,
  campaignSendsOf,
  deleteCampaignSends,
  lastCampaignSend,
  migrateCampaignSends,
  nextCampaignSendExpiry,
  pruneCampaignSends,
  recordCampaignSend,
} from "./campaign-sends-table";
import {
  CART_ITEMS_SCHEMA,
  cartItemsOf,
  cartTimesOf,
  deleteCartItems,
  nextCartItemExpiry,
  pruneCartItems,
  recordCartItems,
} from "./cart-items-table";
import { appliedSeq, applyCatalogChanges, INBOX_SCHEMA } from "./catalog-inbox";
import {
  CLICKS_KEPT_MS,
  CLICKS_SCHEMA,
  clicksOf,
  deleteClicks,
  isRouteClick,
  markApplied,
  nextClickExpiry,
  pruneClicks,
  scannerRows,
  sortClicks,
} from "./clicks-table";
import {
  type DueSweep,
  dropSweep,
  dueSweeps,
  nextSweep,
  queueSweeps,
  SWEEPS_SCHEMA,
  sweepDone,
} from "./decision-sweeps";
import {
  hasPending,
  OUTBOX_RETRY_MS,
  OUTBOX_SCHEMA,
  pendingRows,
  queueForget,
  queueRows,
  sentUpTo,
} from "./experiment-outbox";
import { type FirstTouch, readFirstTouch } from "./first-touch";
import {
  createListChanges,
  deleteListChange,
  type ListChange,
  listChangeOf,
  listChangesPage,
  recordListChange,
} from "./list-changes-table";
import {
  deleteOutcome,
  deleteOutcomes,
  nextOutcomeExpiry,
  OUTCOMES_SCHEMA,
  outcomesOf,
  pruneOutcomes,
  recordOutcomes,
} from "./outcomes-table";
import {
  countParked,
  deleteParkedOnOptOut,
  PARKED_SCHEMA,
  type ParkedEntry,
  type ParkedKey,
  type ParkedQuery,
  parkedPage,
  removeParked,
} from "./parked-table";
import { type CachedReader, ReaderCache } from "./reader-cache";
import { PRUNE_SLACK_MS } from "./sql-tables";
import { adoptSuppression, keepSuppression, NOT_ON_LIST, onlyUnsubscribes, unsubscribes } from "./suppression-only";
import {
  clearEndedReturns,
  hasReturnColumns,
  learnTombstone,
  markReturned,
  migrateReaderReturns,
  migrateTombstones,
  RETURN_COLUMNS,
  type ReturnMark,
  recordedSince,
  returnMarkOf,
  returnOf,
  TOMBSTONES_SCHEMA,
  tombstoneOf,
  writeErasure,
} from "./tombstone-table";
import {
  type AttemptOutcome,
  cancelBeforeFirstCall,
  cancelOnOptOut,
  cancelOnPurchase,
  type DueDelivery,
  deleteTriggers,
  dueDeliveries,
  endOverdue,
  lastTriggeredSend,
  markBegun,
  migrateTriggerTable,
  pendingDelivery,
  postponeDue,
  recordAttempt,
  rowType,
  TRIGGER_SCHEMA,
  triggersOf,
  updateTriggers,
} from "./trigger-table";
import { deleteViews, nextViewExpiry, pruneOldViews, recordViews, VIEWS_SCHEMA, viewsOf } from "./views-table";

/**
 * What became of each event: `applied`, `duplicate` (applied before), `refused` (the reader opted out of
 * tracking), `erased` (dropped: a tombstone stands, or the reader came back after it and the event is timed before
 * their return: tombstone-table.ts; an erased reader's unsubscribe, kept as a suppression alone, is `applied`), `not-pseudonymous` (dropped: its user id reads as an email address, and it is no opt-out:
 * core/opt-out.ts recordablePart) or `rejected` (it would make the profile invalid: the consumer retries it, then
 * dead-letters it). All but `rejected` are acknowledged.
 */
export type ApplyOutcome = "applied" | "duplicate" | "refused" | "erased" | "not-pseudonymous" | "rejected";
/** What became of a dead letter (ReaderShard.park). */
export type ParkOutcome = "parked" | "erased" | "applied" | "refused" | "not-pseudonymous";
/** A parked dead letter replayed (ReaderShard.replayParked), with what became of it. */
export interface ReplayedEvent {
  user: string;
  id: string;
  type: QueuedEvent["type"];
  outcome: ApplyOutcome;
}

/** Everything a shard holds about one reader (ReaderShard.access: right of access). */
export interface ReaderAccess {
  profile: Profile | null;
  /** when each consent field was last set (its change's event time, unix s) */
  clock: ConsentClock | null;
  /** pending or last delivered */
  triggers: Record<string, SqlStorageValue>[];
  /** the items viewed lately, as viewed-* triggers see them */
  views: { item: string; ts: number }[];
  /** each cart item's latest add and remove lately, as cart-abandoned triggers see them */
  cartItems: ReturnType<typeof cartItemsOf>;
  /** clicks and purchases kept for late exposures */
  outcomes: QueuedEvent[];
  /** clicks from the click route kept to tell a link scanner's (clicks-table.ts) */
  clicks: ReturnType<typeof clicksOf>;
  /** parked dead letters, the first of them in key order, and how many */
  parked: { entries: ParkedEntry[]; count: number };
  /** the ids of every event applied (kept forever, for exact idempotency), the first of them in id order, and how many */
  applied: { ids: string[]; count: number };
  /** their latest change of `unsubscribed`, `pausedUntil` or `frequency`, as the shop's list reads it, or null */
  listChange: ListChange | null;
  /** the campaigns' sends recorded for their frequency preference (the last 30 days), newest first */
  campaignSends: { campaign: string; sentAt: number }[];
}

/** At most one snapshot write per reader per this many milliseconds (Workers KV: one write per second per key). */
export const PUBLISH_INTERVAL_MS = SAME_KEY_WRITE_MS;
/**
 * Under a backlog the interval grows with the queue's delay, so coalescing adds at most this share of the delay
 * the queue already adds (a reader whose events waited 20 s in the queue sees them at most 20 s later still),
 * while a busy reader's snapshot is written far less often than once per event. One, not less: KV bills every
 * write, and at 0.5 the local load test (`npm run loadtest`) wrote about 4 snapshots per reader of 20 events and
 * ran at 3,003-3,017 events/s, against 3,012-4,057 at 1 (README, "Snapshots under a backlog").
 */
export const BACKLOG_SHARE = 1;
export const MAX_PUBLISH_INTERVAL_MS = 30_000;

/** The snapshot interval for a queue delay (how long the newest message of a batch waited). */
export function publishInterval(backlogMs: number): number {
  const grown = Number.isFinite(backlogMs) ? Math.round(backlogMs * BACKLOG_SHARE) : 0;
  return Math.min(MAX_PUBLISH_INTERVAL_MS, Math.max(PUBLISH_INTERVAL_MS, grown));
}

export interface ApplyOptions {
  /** how long the newest event of the call waited in the queue (sets the snapshot interval; without it, unchanged) */
  backlogMs?: number;
  /**
   * false: the readers it changes are not published by this call but by the alarm's next round (their rows say they
   * are behind). The alarm's own applies pass it, so that they spend none of its KV budget (PUBLISH_BATCH).
   */
  publish?: boolean;
}
/**
 * Snapshots published per alarm run, or at once by one apply call; more reschedule the alarm at once. With the
 * clean-up's CLEANUP_KV_OPS beside them, an invocation's KV operations stay under Workers' 1,000 (the rest: the
 * triggers' configuration and the global holdout, one bulk read per 100 new readers; the holdout's exposures a run's
 * deliveries record publish nothing themselves: ApplyOptions.publish).
 */
export const PUBLISH_BATCH = 400;
/** Trigger deliveries per alarm run; more reschedule the alarm at once. */
const DELIVERY_BATCH = 25;
/** Webhook calls in flight at once (a Worker's simultaneous connections). */
const WEBHOOK_CONCURRENCY = 6;
/** A delivery that could not be tried (configuration unreadable, secret missing) waits this long. */
const POSTPONE_MS = 60_000;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS readers (
     user TEXT PRIMARY KEY,
     profile TEXT NOT NULL,
     clock TEXT NOT NULL DEFAULT '{}',
     version INTEGER NOT NULL DEFAULT 0,
     published_version INTEGER NOT NULL DEFAULT -1,
     published_at INTEGER NOT NULL DEFAULT 0,
     ${RETURN_COLUMNS}
   )`,
  "CREATE INDEX IF NOT EXISTS readers_unpublished ON readers (published_at) WHERE version <> published_version",
  ...APPLIED_SCHEMA,
  ...TOMBSTONES_SCHEMA,
  ...PARKED_SCHEMA,
  ...TRIGGER_SCHEMA,
  ...VIEWS_SCHEMA,
  ...CART_ITEMS_SCHEMA,
  ...OUTCOMES_SCHEMA,
  ...CLICKS_SCHEMA,
  ...INBOX_SCHEMA,
  ...OUTBOX_SCHEMA,
  ...SWEEPS_SCHEMA,
  ...CAMPAIGN_SENDS_SCHEMA,
];
/**
 * KV operations an alarm run's sweeps, or a batch's opt-out clean-up, spend at most (of an invocation's 1,000,
 * beside PUBLISH_BATCH snapshots): past it, the sweeps go on a minute later.
 */
export const CLEANUP_KV_OPS = 500;
/** Decision sweeps per alarm run (each a KV listing and its deletions); more wait for the next run. */
const SWEEP_BATCH = 20;
/** Outbox sends per call before the rest is left to the alarm. */
const OUTBOX_ROUNDS = 5;

interface ReaderRow extends Record<string, SqlStorageValue> {
  profile: string;
  clock: string;
  version: number;
  published_version: number;
  published_at: number;
  returned_at: number | null;
  returned_until: number | null;
}

export class ReaderShard extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  /** snapshot publishing, one round at a time */
  private publishing: Promise<void> = Promise.resolve();
  /** readers whose snapshot write is held back and was logged so (publishRound: once per hold) */
  private readonly heldLogged = new Set<string>();
  /** the snapshot interval now (publishInterval of the latest call's backlog) */
  private interval = PUBLISH_INTERVAL_MS;
  /** readers as last committed (worker/state/reader-cache.ts) */
  private readonly cache = new ReaderCache();
  /** when the alarm is set for, as this instance set it (saves a storage read per call); null: unknown or none */
  private alarmAt: number | null = null;
  /** deliveries whose webhook has not answered yet: the alarm does not send them twice, nor does a change extend them */
  private readonly inFlight = new Set<string>();
  /**
   * readers with a webhook call in flight, and how many: a call whose row a cart add has moved meanwhile (a new id,
   * its mark gone) still counts against their frequency preference until it answers
   */
  private readonly inFlightReaders = new Map<string, number>();
  /** sends of the experiment outbox to D1, one at a time (in order) */
  private sending: Promise<void> = Promise.resolve();

  /** `kvDeadlines`: a test's; the runtime passes none (OBJECT_KV_DEADLINES) */
  constructor(ctx: DurableObjectState, env: Bindings, kvDeadlines?: KvDeadlines) {
    // every KV operation of the object settles in bounded time (lib/bounded-env.ts)
    super(ctx, objectEnv(env, kvDeadlines));
    this.sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
    migrateTriggerTable(this.sql);
    migrateAppliedTable(this.sql);
    migrateCampaignSends(this.sql);
    migrateTombstones(this.sql, Date.now());
    // a table made before returns were kept on the row gets them, before any call (it hashes ids: async)
    if (!hasReturnColumns(this.sql))
      void ctx.blockConcurrencyWhile(() => migrateReaderReturns(ctx.storage, Date.now(), erasureHash));
    createListChanges(this.sql, Date.now());
  }

  /**
   * Applies events of this shard's readers (any order, repeats allowed); one outcome per event, in order. Whatever
   * queued them (an event queued before the edge checked look-alike ids, a dead letter replayed), an event under an
   * id that reads as an email address records nothing but an opt-out (core/opt-out.ts recordablePart).
   */
  async apply(events: QueuedEvent[], options: ApplyOptions = {}): Promise<ApplyOutcome[]> {
    const nowS = Math.floor(Date.now() / 1000);
    const screened = events.map((e) => recordablePart(e, nowS));
    const outcomes = await this.applyScreened(
      screened.filter((e) => e !== null),
      options,
    );
    let next = 0;
    return screened.map((e) => (e === null ? "not-pseudonymous" : (outcomes[next++] ?? "rejected")));
  }

  /** apply, of events that may be recorded under their ids. */
  private async applyScreened(events: QueuedEvent[], options: ApplyOptions): Promise<ApplyOutcome[]> {
    // the events queue's consumer says how long its batch waited; other callers (dead letters, tests) leave the
    // interval as the queue set it
    if (options.backlogMs !== undefined) {
      const before = this.interval;
      this.interval = publishInterval(options.backlogMs);
      // the backlog shrank: readers held back under the longer interval are due sooner (the alarm moves earlier,
      // when by more than a second: a draining queue shrinks it a little with every batch)
      if (this.interval < before) await this.scheduleAlarm(Date.now() + this.interval, PUBLISH_INTERVAL_MS);
    }
    const byUser = new Map<string, QueuedEvent[]>();
    for (const e of events) {
      const list = byUser.get(e.user);
      if (list) list.push(e);
      else byUser.set(e.user, [e]);
    }
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    // triggers start on cart adds: the configuration is read when a batch has one (unknown, when it cannot be
    // read and none was known: those cart adds schedule nothing, logged); purchases cancel without it
    const carts = events.some((e) => e.type === "cart_add");
    const triggerConfig = carts ? await getTriggers(this.env.OPENTIME_KV, now) : null;
    if (carts && !triggerConfig)
      logEvent("error", "triggers.config_unknown", { detail: "cart adds scheduled nothing" });
    const triggers = triggerConfig?.triggers ?? [];
    let triggerAt: number | null = null;
    /** when the earliest view or recent outcome written in this call expires (ms) */
    let rowsExpire: number | null = null;
    // before the transaction (it cannot await), for readers this shard holds nothing of: their erasure hash,
    // their state from before this writer, and a tombstone written before it. Readers it holds need nothing: a
    // return after an erasure is on their row (tombstone-table.ts)
    const firstTouch = new Map<string, FirstTouch & { hash: string }>();
    const unknown: { user: string; hash: string }[] = [];
    await Promise.all(
      [...byUser.keys()]
        .filter((user) => !this.reader(user, nowIso))
        .map(async (user) => {
          const hash = await erasureHash(user);
          if (this.isTombstoned(hash, now)) firstTouch.set(user, { hash, imported: null, erasedAtEdge: false });
          else unknown.push({ user, hash });
        }),
    );
    if (unknown.length > 0) {
      const read = await readFirstTouch(this.env.OPENTIME_KV, unknown, getConfig(this.env).tokenSecrets);
      for (const { user, hash } of unknown) {
        const touch = read.get(user) ?? { imported: null, erasedAtEdge: false };
        firstTouch.set(user, { hash, ...touch });
      }
    }
    // by reader and id: ids are unique per reader only (`open:<send>` is every reader's open of a campaign's send)
    const key = (e: QueuedEvent) => `${e.user}\u0000${e.id}`;
    const outcome = new Map<string, ApplyOutcome>();
    // cache updates wait for the commit: a transaction that throws leaves the cache as it was
    const committed: [string, CachedReader][] = [];
    const dropped: string[] = [];
    // experiments are recorded only where their store is bound
    const experimentsOn = this.env.DB !== undefined;
    let queued = false;
    let sweeping = false;
    /** readers whose opt-out of tracking took effect in this call (the consent clock accepted it) */
    const optedOut: string[] = [];
    /** erased readers who came back in this call: the edge's tombstone goes once it commits */
    const cameBack: { user: string; hash: string }[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const [user, all] of byUser) {
        const first = firstTouch.get(user);
        let reader = this.reader(user, nowIso);
        let list = all;
        if (first?.erasedAtEdge)
          learnTombstone(this.sql, first.hash, now + getConfig(this.env).erasureTombstoneDays * 86_400_000, now);
        // read again here, once: an erase may have landed during the awaits. Rows are deleted only by erase(): a
        // reader held before the awaits and gone now was erased meanwhile, and all their events in this call are
        // acknowledged as erased and dropped, a consent timed after that erasure too (no first-touch read of their
        // tombstone was made, so no return is decided here): it does not bring them back; a later consent does
        const stone = first ? tombstoneOf(this.sql, first.hash, now) : null;
        let erased = first ? first.erasedAtEdge || (stone !== null && stone.returnedAt === null) : reader === null;
        // an erased reader who consents again after the erasure comes back (tombstone-table.ts returnOf)
        const back = erased && first && stone && stone.returnedAt === null ? returnOf(list, stone.erasedAt) : null;
        /** their return, kept on the row this call writes for them: a held reader's own row, else their tombstone's */
        let returned: ReturnMark | null = reader ? reader.returned : returnMarkOf(stone);
        if (back !== null && first && stone) {
          markReturned(this.sql, first.hash, back);
          cameBack.push({ user, hash: first.hash });
          // their edge tombstones go after the commit; the sweeps delete them again (a failure, an eviction
          // between, or the erasure request's KV part landing after the return), every minute until done, whether
          // or not the erasure's own sweeps are still queued
          queueSweeps(this.sql, user, now);
          sweeping = true;
          returned = { at: back, until: stone.until };
          if (reader) {
            // state a concurrent first touch committed from before the erasure goes, as in the erased branch below
            this.deleteReader(user);
            dropped.push(user);
            reader = null;
          }
          erased = false;
        }
        // a reader who came back: what is timed before their return stays dropped, but an unsubscribe (kept, as
        // for any erased reader); late events from before the erasure never bring its data back
        const since = erased ? null : recordedSince(returned, now);
        if (since !== null) {
          list = [];
          for (const e of all) {
            if (e.ts * 1000 >= since || unsubscribes(e)) list.push(e);
            else outcome.set(key(e), "erased");
          }
          if (list.length === 0) continue;
        }
        if (erased) {
          if (reader) {
            // a concurrent first touch, which read KV before the edge's tombstone landed, committed the reader:
            // their state goes as erase() would take it
            this.deleteReader(user);
            dropped.push(user);
          }
          // an unsubscribe is kept, as a suppression alone (suppression-only.ts); everything else is dropped
          keepSuppression(this.sql, user, list, Date.now());
          for (const e of list) outcome.set(key(e), unsubscribes(e) ? "applied" : "erased");
          continue;
        }
        // a reader this shard holds nothing of, KV nothing of from before it, whose events only unsubscribe them (the
        // one-click link, long after an erasure or for a reader never known): the suppression alone, no profile
        if (!reader && !first?.imported && onlyUnsubscribes(list)) {
          keepSuppression(this.sql, user, list, Date.now());
          for (const e of list) outcome.set(key(e), "applied");
          continue;
        }
        let changedBefore = reader?.repaired ?? false;
        const importedNow = !reader && first?.imported != null;
        // a reader created now takes up a suppression kept before (their list row says what was on the list)
        const kept = reader ? null : listChangeOf(this.sql, user);
        if (!reader && first?.imported) {
          for (const id of first.imported.seen) recordApplied(this.sql, user, id, now);
          reader = { ...newReader(first.imported.profile), repaired: false };
          changedBefore = true;
        }
        let current = reader ?? { ...newReader(emptyProfile(user, nowIso)), repaired: false };
        const adopted = adoptSuppression(kept, current.profile, current.clock);
        if (adopted) {
          current = { ...current, ...adopted };
          changedBefore = true;
        }
        // clicks from the click route: a link scanner's (its user agent, or a burst on one email) is recorded apart
        // and never applied; one applied earlier that a burst now shows to be a scanner's is undone first, here, so
        // the reader's profile, attribution and reports never keep it (worker/state/clicks-table.ts)
        const sorted = sortClicks(this.sql, user, list, now, (e) =>
          mayRecordAt(e.ts, current.profile.consent, current.clock),
        );
        if (list.some(isRouteClick)) rowsExpire = Math.min(rowsExpire ?? now + CLICKS_KEPT_MS, now + CLICKS_KEPT_MS);
        let before = current.profile;
        /** the experiment store's rows the undone clicks take back, and the scanners' clicks counted apart */
        const retracted: StoreRow[] = [];
        const scanned: StoreRow[] = [];
        for (const u of sorted.undo) {
          const back = withoutClick(before, u.event, u.made, nowIso);
          before = back.profile;
          // its id forgotten: the reader's own click of that slot counts when it comes
          forgetApplied(this.sql, user, u.event.id);
          deleteOutcome(this.sql, user, u.event.id);
          retracted.push(
            { kind: "retract-click", user, event: u.event.id },
            ...back.unexposed.map((experiment) => ({ kind: "unexposed" as const, experiment, user })),
          );
          scanned.push(...scannerRows(user, u.event, u.reason));
        }
        for (const x of sorted.scanner) {
          if (!x.repeat) scanned.push(...scannerRows(user, x.event, x.reason));
          outcome.set(key(x.event), x.repeat ? "duplicate" : "applied");
        }
        if (sorted.undo.length > 0) changedBefore = true;
        // an id is new when recording it writes a row (a repeat within the batch writes none). A consent change keeps
        // no row: its clock makes applying it again change nothing (the latest time wins, at equal times the more
        // private value), and its id, one a second from the email's form and its two-year one-click link, would be a
        // row kept for good per POST to whoever holds the email
        const fresh = sorted.events.filter((e) => e.type === "consent" || recordApplied(this.sql, user, e.id, now));
        const clock = { ...current.clock };
        const res = applyEventsSafely(before, fresh, nowIso, [], clock);
        const applied = new Set(res.appliedIds);
        // a click applied as the reader's keeps what applying it did, should a burst show it a scanner's later
        for (const e of fresh)
          if (e.type === "email_click" && applied.has(e.id) && isRouteClick(e))
            markApplied(this.sql, user, e, exposuresMade(e, before, res.profile));
        // refused (tracking off) and rejected events are not applied: a redelivery is judged again (a refused
        // event is redelivered only when its message is retried for another event; an opt-in in between lets it
        // land, a narrow race left alone rather than keeping the ids of what an opted-out reader did)
        for (const e of fresh) if (!applied.has(e.id)) forgetApplied(this.sql, user, e.id);
        // the pixel's ids expire, and a reader keeps their newest (applied-table.ts)
        if (fresh.some((e) => applied.has(e.id) && isPixelId(e.id))) {
          trimPixelIds(this.sql, user);
          rowsExpire = Math.min(rowsExpire ?? now + PIXEL_IDS_KEPT_MS, now + PIXEL_IDS_KEPT_MS);
        }
        // an exposure that came after clicks or purchases that followed it credits them now, as does an open that
        // came after the click it preceded (its window starts earlier): those applied in earlier batches, and this
        // batch's own (one in the exposure's second applied just before it)
        const newlyExposed = windowsStarted(res.experimentRows);
        const batchOutcomes = () =>
          fresh.filter((e) => applied.has(e.id) && (e.type === "email_click" || e.type === "purchase"));
        // what the undone clicks made goes before this batch's rows (the reader's own click of the slot may be one);
        // scanners' clicks are counted while the reader allows tracking
        const tracked = res.profile.consent.tracking && !res.trackingOff;
        const rows = [
          ...retracted,
          ...(tracked ? scanned : []),
          ...res.experimentRows,
          ...(experimentsOn && newlyExposed.length > 0
            ? lateAttributedRows(
                [...outcomesOf(this.sql, user, now), ...batchOutcomes()],
                res.profile.experiments,
                newlyExposed,
                res.experimentRows,
              )
            : []),
        ];
        if (experimentsOn && rows.length > 0) {
          queueRows(this.sql, rows);
          queued = true;
        }
        // an unsubscribe, a pause (or their end) or a frequency, whatever took it: numbered for the shop's list, in this
        // transaction, so no change is applied without it; a reader imported from KV's earlier state comes with
        // theirs (nothing listed it before)
        if (applied.size > 0 || importedNow)
          recordListChange(
            this.sql,
            user,
            kept ?? (importedNow ? NOT_ON_LIST : current.profile.consent),
            res.profile.consent,
            Date.now(),
          );
        if (applied.size > 0) {
          const appliedEvents = fresh.filter((e) => applied.has(e.id));
          const purchased = lastPurchaseTs(res.profile);
          // an opt-out that stops triggers (tracking off, also when turned on again within these events;
          // unsubscribed; personalization off, for viewed-*) empties their pending deliveries here, in the
          // transaction that applies it; then a reader it still stops schedules nothing new, and one who opted in
          // again within these events schedules only by the cart adds after their opt-out
          const stops = res.trackingOff ? "tracking-off" : consentStops(res.profile.consent, true, null);
          if (stops !== null) cancelOnOptOut(this.sql, user, stops);
          const stopsNow = consentStops(res.profile.consent, true, null);
          // cart removes take their items out of pending deliveries whatever the configuration says (it is read
          // only for cart adds), as purchases cancel them
          const moves = triggers.length > 0 || appliedEvents.some((e) => e.type === "cart_remove");
          // tracking turned off (also when on again within these events): the cart's record goes first, then
          // what came after an opt-in within these events is recorded anew
          if (!res.profile.consent.tracking || res.trackingOff) deleteCartItems(this.sql, user);
          if (moves && (stopsNow === null || stopsNow === "personalization-off")) {
            const offAt = res.trackingOff ? lastTrackingOff(appliedEvents) : Number.NEGATIVE_INFINITY;
            const since = appliedEvents.filter((e) => e.ts > offAt);
            // the cart's adds and removes first, so that the triggers read them whatever order they came in
            const nowS = Math.floor(now / 1000);
            const expires = recordCartItems(this.sql, user, since, nowS);
            if (expires !== null) rowsExpire = Math.min(rowsExpire ?? expires, expires);
            const cart = cartTimesOf(this.sql, user, nowS);
            const at = updateTriggers(this.sql, user, triggers, since, purchased, now, res.profile.consent, cart);
            if (at !== null) triggerAt = Math.min(triggerAt ?? at, at);
          }
          if (appliedEvents.some((e) => e.type === "purchase"))
            cancelOnPurchase(this.sql, user, purchased, cartTimesOf(this.sql, user, Math.floor(now / 1000)));
          // tracking turned off: what they viewed goes (their later events are not recorded); also when it was
          // turned off and on again within these events; not for an opt-out older than a newer opt-in (the
          // consent clock kept tracking on: nothing changed)
          const offNow = res.trackingOff;
          if (!res.profile.consent.tracking || offNow) {
            deleteViews(this.sql, user);
            deleteOutcomes(this.sql, user);
            deleteClicks(this.sql, user);
            deleteParkedOnOptOut(this.sql, user);
          } else {
            if (appliedEvents.some((e) => e.type === "view" || e.type === "purchase")) {
              const expires = recordViews(this.sql, user, appliedEvents, res.profile.purchases, Math.floor(now / 1000));
              if (expires !== null) rowsExpire = Math.min(rowsExpire ?? expires, expires);
            }
            const kept = experimentsOn ? recordOutcomes(this.sql, user, appliedEvents, now) : null;
            if (kept !== null) rowsExpire = Math.min(rowsExpire ?? kept, kept);
          }
          // their decisions go once this call has committed, and again from the alarm, for one stored just after
          if (offNow) {
            queueSweeps(this.sql, user, now);
            sweeping = true;
            optedOut.push(user);
          }
        }
        if (res.applied > 0 || changedBefore) {
          const json = JSON.stringify(res.profile);
          const version = current.version + 1;
          // a new row takes the reader's return; a held reader's row has it already
          this.sql.exec(
            `INSERT INTO readers (user, profile, clock, version, returned_at, returned_until) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (user) DO UPDATE SET profile = excluded.profile, clock = excluded.clock, version = excluded.version`,
            user,
            json,
            JSON.stringify(clock),
            version,
            returned?.at ?? null,
            returned?.until ?? null,
          );
          committed.push([user, { ...current, profile: res.profile, json, clock, version, returned }]);
        }
        const rejected = new Set(res.rejectedIds);
        const freshIds = new Set(fresh.map((e) => e.id));
        for (const e of list) {
          if (outcome.has(key(e))) continue;
          outcome.set(
            key(e),
            rejected.has(e.id)
              ? "rejected"
              : applied.has(e.id)
                ? "applied"
                : // a consent change is never refused: one not applied was in the profile's own window of ids
                  freshIds.has(e.id) && e.type !== "consent"
                  ? "refused"
                  : "duplicate",
          );
        }
      }
    });
    for (const [user, reader] of committed) this.cache.set(user, reader);
    for (const user of dropped) this.cache.delete(user);
    if (triggerAt !== null) await this.scheduleAlarm(triggerAt);
    // views and recent outcomes expire: an alarm within a day of their pruning deletes them (pruneOldViews,
    // pruneOutcomes; older rows have one)
    if (rowsExpire !== null) await this.scheduleAlarm(rowsExpire + PRUNE_SLACK_MS, 86_400_000);
    if (sweeping) await this.scheduleAlarm(nextSweep(this.sql) ?? now);
    // experiment rows go to D1 after the call answers (a slow D1 never holds the queue's acks); the alarm
    // sends what this send does not (the object evicted meanwhile, D1 failing)
    if (queued) {
      await this.scheduleAlarm(Date.now() + OUTBOX_RETRY_MS);
      this.ctx.waitUntil(this.sendOutbox());
    }
    if (options.publish === false) {
      if (committed.length > 0) await this.scheduleAlarm(Date.now() + this.interval);
    } else {
      if (committed.length > 0) await this.publish(committed.slice(0, PUBLISH_BATCH).map(([user]) => user));
      // the rest at the alarm, at once (their rows say they are behind)
      if (committed.length > PUBLISH_BATCH) await this.scheduleAlarm(Date.now());
    }
    // the KV operations the returns' and the opt-outs' clean-up spend at most, beside the snapshots above
    const budget = new KvBudget(CLEANUP_KV_OPS);
    // a reader who came back is served again: the edge's tombstones go (a failure, or past the budget: the sweeps
    // queued with the return delete them again, sweepDecisions)
    for (const { user, hash } of cameBack) {
      try {
        await this.deleteEdgeTombstones(user, hash, budget);
      } catch (e) {
        logEvent("error", "erasure.return_kv_failed", { detail: errorMessage(e) });
      }
    }
    // before the call answers, so that whoever sent the opt-out finds no decision left; a failure is logged and
    // left to the sweeps queued with it (2 and 15 minutes on), which delete them again
    await Promise.all(
      optedOut.map(async (user) => {
        try {
          // what the budget leaves is the sweeps' (a reader of many campaigns can hold thousands)
          await deleteDecisions(this.env.OPENTIME_KV, user, budget);
        } catch (e) {
          logEvent("error", "events.decisions_cleanup_failed", { detail: errorMessage(e) });
        }
      }),
    );
    const returned = new Set<string>();
    return events.map((e) => {
      const kind = outcome.get(key(e)) ?? "rejected";
      const repeat = returned.has(key(e));
      returned.add(key(e));
      return repeat && kind !== "rejected" ? "duplicate" : kind;
    });
  }

  /** The reader's profile as this shard holds it, or null. */
  async read(user: string): Promise<Profile | null> {
    return this.reader(user, new Date().toISOString())?.profile ?? null;
  }

  /**
   * Right of access: everything this shard holds about the reader, read in one call (one snapshot: no write
   * lands between its reads), parked dead letters and applied event ids at most `limit` of each with their counts.
   */
  async access(user: string, limit: number): Promise<ReaderAccess> {
    const held = this.reader(user, new Date().toISOString());
    const parked = parkedPage(this.sql, { user, limit });
    return {
      profile: held?.profile ?? null,
      clock: held?.clock ?? null,
      triggers: triggersOf(this.sql, user),
      views: viewsOf(this.sql, user),
      cartItems: cartItemsOf(this.sql, user),
      outcomes: outcomesOf(this.sql, user),
      clicks: clicksOf(this.sql, user),
      parked: { entries: parked.entries, count: countParked(this.sql, user) },
      applied: appliedOf(this.sql, user, limit),
      listChange: listChangeOf(this.sql, user),
      campaignSends: campaignSendsOf(this.sql, user),
    };
  }

  /**
   * Records a campaign's send to these readers (POST /v1/admin/sends, for `npm run email`), in one transaction,
   * at the shard's time: an erased reader's is not recorded (nothing of them is kept), nor, `held` with why, one
   * whose state here says not to mail them now: unsubscribed, paused, or a send their frequency preference counts
   * more recent than it allows (another build's, or a trigger's, made since the suppression check: the check and
   * this recording are hours apart in a large build, and this is where the two are one step). Sends past the
   * longest frequency preference are deleted at the same time. Idempotent: a send of the same campaign recorded
   * again within REBUILD_WINDOW_S of its issue's first is that issue (it never holds back its own reader; its time
   * moves to the latest build).
   */
  async recordSends(
    campaign: string,
    users: string[],
  ): Promise<{ recorded: number; held: { user: string; reason: SuppressionReason }[] }> {
    const now = Date.now();
    const nowS = Math.floor(now / 1000);
    const unique = [...new Set(users)];
    const hashes = await Promise.all(unique.map((u) => erasureHash(u)));
    let recorded = 0;
    const held: { user: string; reason: SuppressionReason }[] = [];
    this.ctx.storage.transactionSync(() => {
      unique.forEach((user, i) => {
        // erased since the check: nothing of them is kept, and they are not to be mailed
        if (this.isTombstoned(hashes[i] as string, now)) {
          held.push({ user, reason: "erased" });
          return;
        }
        const reason = this.heldAtSend(user, campaign, nowS);
        if (reason) {
          held.push({ user, reason });
          return;
        }
        recordCampaignSend(this.sql, user, campaign, nowS);
        recorded++;
      });
      pruneCampaignSends(this.sql, nowS);
    });
    // a send is kept 30 days however quiet the shard: an alarm within a day of the oldest one's expiry deletes it
    const expires = nextCampaignSendExpiry(this.sql);
    if (expires !== null) await this.scheduleAlarm(expires + PRUNE_SLACK_MS, 86_400_000);
    return { recorded, held };
  }

  /**
   * Why a reader must not get `campaign` now (recordSends), or null: their consent as this shard holds it (read
   * from the row's JSON alone: no profile parsed, nor cached, for each of a large build's readers), or, without a
   * profile, the unsubscribe or pause kept of them alone (suppression-only.ts). Synchronous.
   */
  private heldAtSend(user: string, campaign: string, nowS: number): SuppressionReason | null {
    const cached = this.cache.get(user)?.profile.consent;
    const stored = cached
      ? null
      : this.sql
          .exec<{ consent: string | null }>(
            "SELECT json_extract(profile, '$.consent') AS consent FROM readers WHERE user = ?",
            user,
          )
          .toArray()[0];
    if (!cached && !stored) {
      const kept = listChangeOf(this.sql, user);
      return kept ? listSuppressionOf(kept, nowS) : null;
    }
    const consent = cached ?? salvageConsent(stored?.consent ? JSON.parse(stored.consent) : null);
    const listed = listSuppressionOf(consent, nowS);
    if (listed) return listed;
    if (consent.frequency === null) return null;
    const last = this.latestSendOf(user, campaign, nowS);
    return campaignAllows(consent.frequency, last, nowS) ? null : "frequency";
  }

  /**
   * For the suppression check: each reader's latest send their frequency preference counts (unix s, or null:
   * none), read in one call, so a send recorded or begun before it is seen: a campaign's recorded send other than
   * `campaign`'s (null: every campaign's), or a triggered one (trigger-table.ts lastTriggeredSend: acknowledged,
   * or begun and not settled; a webhook call in flight counts as now, as it does for their triggers).
   */
  async latestSends(users: string[], campaign: string | null): Promise<Map<string, number | null>> {
    const nowS = Math.floor(Date.now() / 1000);
    // a Map: a reader whose id is `__proto__` is a key like any other (a plain object's would set its prototype)
    const out = new Map<string, number | null>();
    for (const user of users) out.set(user, this.latestSendOf(user, campaign, nowS));
    return out;
  }

  /** latestSends' answer for one reader: their latest send their frequency preference counts (unix s), or null. */
  private latestSendOf(user: string, campaign: string | null, nowS: number): number | null {
    const calling = (this.inFlightReaders.get(user) ?? 0) > 0 ? nowS : null;
    const building = campaign === null ? undefined : { campaign, nowS };
    const sends = [lastCampaignSend(this.sql, user, building), lastTriggeredSend(this.sql, user, ""), calling];
    return sends.reduce<number | null>((m, t) => (t === null ? m : m === null ? t : Math.max(m, t)), null);
  }

  /**
   * The shop's list's read (GET /v1/admin/suppressions): this shard's changes of `unsubscribed` and `pausedUntil`
   * after sequence number `after` (those up to `floor`, its last when the read began, applied at `sinceMs` or
   * later), at most `limit`, the number to go on after, and its last (list-changes-table.ts listChangesPage).
   */
  async listChanges(
    after: number,
    floor: number,
    sinceMs: number,
    limit: number,
  ): Promise<{ changes: ListChange[]; next: number; last: number }> {
    return listChangesPage(this.sql, after, floor, sinceMs, limit);
  }

  /**
   * For the suppression check, of readers with no snapshot in KV (suppression-only readers have none: suppression-
   * only.ts): the list row of each who has one, read in one call, so an unsubscribe kept a moment before counts.
   */
  async listStates(users: string[]): Promise<ListChange[]> {
    return users.map((user) => listChangeOf(this.sql, user)).filter((c) => c !== null);
  }

  /**
   * Keeps dead letters (the consumer gave up on them) for an operator: `parked`, or dropped: `erased` (the
   * reader's tombstone stands), `applied` (applied before: the good neighbour of a bad event in a dead-lettered
   * message), `refused` (the reader has tracking off: nothing of what they did is kept; consent changes
   * are parked whatever the consent) or `not-pseudonymous` (apply's). Idempotent by (user, id).
   */
  async park(events: QueuedEvent[]): Promise<ParkOutcome[]> {
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    const hashes = await Promise.all(events.map((e) => erasureHash(e.user)));
    const out: ParkOutcome[] = [];
    this.ctx.storage.transactionSync(() => {
      events.forEach((queued, i) => {
        // an id that reads as an email address is kept with nothing but an opt-out (core/opt-out.ts)
        const e = recordablePart(queued, Math.floor(now / 1000));
        if (e === null) {
          out.push("not-pseudonymous");
          return;
        }
        if (this.isTombstoned(hashes[i] as string, now)) {
          out.push("erased");
          return;
        }
        // a reader who came back: what is timed before their return is from before the erasure, never kept (apply
        // drops it the same way), but an unsubscribe
        const held = this.reader(e.user, nowIso);
        const stone = tombstoneOf(this.sql, hashes[i] as string, now);
        const back = recordedSince(held ? held.returned : returnMarkOf(stone), now);
        if (back !== null && e.ts * 1000 < back && !unsubscribes(e)) {
          out.push("erased");
          return;
        }
        if (wasApplied(this.sql, e.user, e.id)) {
          out.push("applied");
          return;
        }
        if (e.type !== "consent" && held?.profile.consent.tracking === false) {
          out.push("refused");
          return;
        }
        this.sql.exec(
          "INSERT OR IGNORE INTO parked (user, id, event, parked_at) VALUES (?, ?, ?, ?)",
          e.user,
          e.id,
          JSON.stringify(e),
          now,
        );
        out.push("parked");
      });
    });
    return out;
  }

  /**
   * Applies changes from the catalog writer's outbox (worker/state/catalog-inbox.ts), each sequence number
   * once, in one transaction: the readers who viewed the items get deliveries due now, which the alarm sends.
   * Returns the last sequence number applied; when the triggers configuration cannot be read (and none was
   * known) nothing is applied, and the writer sends the changes again later.
   */
  async catalogChanged(changes: CatalogChange[]): Promise<number> {
    const config = await getTriggers(this.env.OPENTIME_KV);
    if (!config) {
      logEvent("error", "triggers.config_unknown", { detail: "catalog changes wait" });
      return appliedSeq(this.sql);
    }
    const triggers = viewedTriggers(config.triggers);
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    // a viewer whose consent would cancel the delivery at once gets none; one whose pause ends within a day gets
    // one, which waits for its end as a pending one does (core/triggers.ts consentStopsNew). Views are written with
    // their reader's row, so one is always held; were none, the alarm would cancel it: `reader-gone`
    const stops = (user: string) => {
      const consent = this.reader(user, nowIso)?.profile.consent;
      return consent !== undefined && consentStopsNew(consent, true, Math.floor(now / 1000)) !== null;
    };
    const result = this.ctx.storage.transactionSync(() =>
      applyCatalogChanges(this.sql, triggers, changes, now, this.inFlight, stops),
    );
    if (result.earliest !== null) await this.scheduleAlarm(result.earliest);
    return result.seq;
  }

  /** How many dead letters of the reader are parked (right of access). */
  async parkedCount(user: string): Promise<number> {
    return countParked(this.sql, user);
  }

  /** Parked dead letters, a page in key order, and how many the reader (or the shard) has parked (admin API). */
  async parked(q: ParkedQuery): Promise<{ entries: ParkedEntry[]; next: ParkedKey | null; count: number }> {
    return { ...parkedPage(this.sql, q), count: countParked(this.sql, q.user) };
  }

  /**
   * Applies a page of parked dead letters through apply(), as the consumer would have, and deletes those it
   * settles (applied, duplicate, refused, erased); those it still rejects stay parked. Each with its outcome.
   */
  async replayParked(q: ParkedQuery): Promise<{ replayed: ReplayedEvent[]; next: ParkedKey | null; count: number }> {
    const { entries, next } = parkedPage(this.sql, q);
    const outcomes = entries.length > 0 ? await this.apply(entries.map((e) => e.event)) : [];
    const replayed = entries.map(({ user, id, event }, i): ReplayedEvent => {
      const outcome = outcomes[i] ?? "rejected";
      return { user, id, type: event.type, outcome };
    });
    const settled = replayed.filter((r) => r.outcome !== "rejected");
    if (settled.length > 0) this.ctx.storage.transactionSync(() => removeParked(this.sql, settled));
    return { replayed, next, count: countParked(this.sql, q.user) };
  }

  /** Deletes a page of parked dead letters; how many, and how many are left (the reader's, or the shard's). */
  async dropParked(q: ParkedQuery): Promise<{ deleted: number; count: number }> {
    const { entries } = parkedPage(this.sql, q);
    const deleted = this.ctx.storage.transactionSync(() => removeParked(this.sql, entries));
    return { deleted, count: countParked(this.sql, q.user) };
  }

  /**
   * Deletes the edge's tombstones of a reader who came back (the current one and those keyed by a secret); false
   * when the budget could not hold them all (one operation a key), which then spends none of it; true, with nothing
   * sent, when they were erased again meanwhile.
   */
  private async deleteEdgeTombstones(user: string, hash: string, budget?: KvBudget): Promise<boolean> {
    const keys = await tombstoneKeys(user, getConfig(this.env).tokenSecrets, hash);
    // erased again while the keys were made: the erasure's own tombstone must stand (erase() waits only for deletes
    // already sent), and its sweeps take over; checked in the same turn as the deletes are sent
    if (this.isTombstoned(hash, Date.now())) return true;
    if (budget) {
      if (budget.left < keys.length) return false;
      budget.take(keys.length);
    }
    await Promise.all(keys.map((k) => this.env.OPENTIME_KV.delete(k)));
    return true;
  }

  /** Whether the reader is erased (their tombstone still stands; not once they came back). */
  async erased(user: string): Promise<boolean> {
    return this.isTombstoned(await erasureHash(user), Date.now());
  }

  /**
   * Erases the reader: their profile, clock and applied ids are deleted and a tombstone stands until `untilMs`
   * (later events are acknowledged and dropped). The KV snapshot, decisions and features are the caller's.
   */
  async erase(user: string, untilMs: number): Promise<{ rows: number }> {
    const hash = await erasureHash(user);
    let rows = 0;
    const experimentsOn = this.env.DB !== undefined;
    this.ctx.storage.transactionSync(() => {
      rows = this.deleteReader(user);
      writeErasure(this.sql, hash, untilMs, Date.now());
      // the caller deletes their decisions; the alarm does again, for one stored just after
      queueSweeps(this.sql, user, Date.now());
      // and their exposures and outcomes in the experiment store
      if (experimentsOn) queueForget(this.sql, user);
    });
    this.cache.delete(user);
    this.heldLogged.delete(user);
    await this.scheduleAlarm(untilMs);
    await this.scheduleAlarm(nextSweep(this.sql) ?? Date.now());
    if (experimentsOn) {
      await this.scheduleAlarm(Date.now() + OUTBOX_RETRY_MS);
      this.ctx.waitUntil(this.sendOutbox());
    }
    // a snapshot write begun before the deletion must land before the caller deletes the snapshot, through its own
    // KV: the round first (it may not have sent its write yet), then every write of theirs this object sent, one given
    // up on at its deadline included (it may still land: lib/kv-deadline.ts writesSettled, ABANDONED_WRITE_MS at
    // most). Their snapshot, and their edge tombstones, whose delete (a return) landing after the caller's write
    // would serve them again; the shard's other writes of theirs are deletes, harmless late
    await this.publishing;
    const tombstones = await tombstoneKeys(user, getConfig(this.env).tokenSecrets, hash);
    await writesSettled(this.env.OPENTIME_KV, [kvKeys.profile(user), ...tombstones]);
    return { rows };
  }

  /**
   * Publishes snapshots that are behind (failed or rate-limited writes), delivers the triggers that are due,
   * and forgets expired tombstones.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    this.sql.exec("DELETE FROM tombstones WHERE until <= ?", now);
    clearEndedReturns(this.sql, now);
    pruneOldViews(this.sql, Math.floor(now / 1000));
    pruneCartItems(this.sql, Math.floor(now / 1000));
    pruneOutcomes(this.sql, now);
    pruneClicks(this.sql, now);
    pruneAppliedIds(this.sql, now);
    pruneCampaignSends(this.sql, Math.floor(now / 1000));
    const due = this.sql
      .exec<{ user: string }>(
        "SELECT user FROM readers WHERE version <> published_version AND published_at <= ? LIMIT ?",
        now - this.interval,
        PUBLISH_BATCH,
      )
      .toArray()
      .map((r) => r.user);
    if (due.length > 0) await this.publish(due);
    // after the snapshots, which a slow webhook must not hold back
    const deliveries = dueDeliveries(this.sql, now, DELIVERY_BATCH + this.inFlight.size)
      .filter((d) => !this.inFlight.has(d.delivery))
      .slice(0, DELIVERY_BATCH);
    if (deliveries.length > 0) await this.deliverDue(deliveries);
    await this.sweepDecisions(dueSweeps(this.sql, now, SWEEP_BATCH));
    await this.sendOutbox();
    const next = this.sql
      .exec<{ at: number | null }>(
        `SELECT min(at) AS at FROM (
           SELECT min(published_at) + ${this.interval} AS at FROM readers WHERE version <> published_version
           UNION ALL SELECT min(until) AS at FROM tombstones
           UNION ALL SELECT min(next_at) AS at FROM triggers WHERE state = 'pending'
           UNION ALL SELECT min(at) AS at FROM decision_sweeps)`,
      )
      .one().at;
    // and, however quiet the shard, an hour after the oldest of its expiring rows expires (views, recent outcomes,
    // clicks, pixel ids, campaign sends: one wake prunes an hour of them, not one per row under steady traffic), and
    // soon while the outbox holds rows
    const expiring = [
      nextViewExpiry(this.sql),
      nextCartItemExpiry(this.sql),
      nextOutcomeExpiry(this.sql),
      nextClickExpiry(this.sql),
      nextAppliedExpiry(this.sql),
      nextCampaignSendExpiry(this.sql),
    ].map((t) => (t === null ? null : t + PRUNE_SLACK_MS));
    const outbox = hasPending(this.sql) ? Date.now() + OUTBOX_RETRY_MS : null;
    const at = [next, ...expiring, outbox].reduce<number | null>(
      (min, t) => (t === null ? min : min === null ? t : Math.min(min, t)),
      null,
    );
    if (at !== null) {
      const when = Math.max(at, Date.now() + 50);
      await this.ctx.storage.setAlarm(when);
      this.alarmAt = when;
    }
  }

  /**
   * Sends due trigger deliveries, WEBHOOK_CONCURRENCY at a time. Cancelled instead: a trigger no longer
   * configured (switched off, or now of another type), a reader gone, unsubscribed, paused past a day after the
   * delivery's due time (a shorter pause keeps it for the pause's end: core/triggers.ts pauseEnd), with tracking off,
   * or who bought since the cart add (viewed-*: bought every item since viewing it; the items bought are left
   * out), or whom the global holdout holds; and, before its first call, one due more than a day ago (it could not
   * be tried meanwhile) or whose call would come sooner after the reader's last triggered send than their frequency
   * preference allows. Put off (not an attempt): the configuration or the global holdout unreadable, a secret
   * missing. A send the webhook refused (a 4xx but those of core/triggers.ts RETRIED_4XX) is given up at once
   * (`refused`); another failed send is retried later, with the same delivery id (core/triggers.ts retryDelayMs: a
   * jittered back-off, no sooner than a 429's or 503's Retry-After).
   */
  private async deliverDue(due: DueDelivery[]): Promise<void> {
    const viewedDue = due.filter((d) => d.changes !== null);
    const [config, holdout, live] = await Promise.all([
      getTriggers(this.env.OPENTIME_KV),
      knownGlobalHoldout(this.env.OPENTIME_KV),
      // what viewed-* deliveries announce is checked against the live catalog as it is now (never throws: KV
      // unreadable, its last good copy, or none, and then each change is taken as announced)
      viewedDue.length > 0 ? getLiveCatalog(this.env.OPENTIME_KV, (p) => this.ctx.waitUntil(p)) : null,
    ]);
    const holds = await this.announcedHolds(viewedDue, config, live);
    const { tokenSecrets, erasureTombstoneDays, webhookSecret } = getConfig(this.env);
    const tokenSecret = tokenSecrets[0];
    // a day short of the tombstone: an erased reader's trigger email stops recording before it goes
    const tokenMaxDays = Math.max(1, erasureTombstoneDays - 1);
    const secrets = webhookSecret && tokenSecret ? { webhookSecret, tokenSecret, tokenMaxDays } : null;
    // put off for what the shop lacks, not the reader: the other due deliveries are put off with them (below)
    let blocked = false;
    const later = () => {
      blocked = true;
      return { kind: "postponed" as const, atMs: Date.now() + POSTPONE_MS };
    };
    let unconfiguredLogged = false;
    const one = async (d: DueDelivery): Promise<void> => {
      const nowMs = Date.now();
      // first: one kept past its use goes, whatever put it off below (trigger-table.ts endOverdue)
      const ended = endOverdue(this.sql, d, nowMs);
      if (ended === "stale") logEvent("info", "trigger.cancelled", { trigger: d.trigger, reason: ended });
      if (ended === "retries-exhausted")
        logEvent("error", "trigger.given_up", {
          trigger: d.trigger,
          delivery: deliveryRef(d.delivery),
          attempts: d.attempts,
          reason: ended,
        });
      if (ended) return;
      if (!config) {
        recordAttempt(this.sql, d, later(), nowMs);
        return;
      }
      // of the type it was scheduled for (trigger-table.ts rowType): a cart row has no `changes`, a viewed-* row's
      // tell a price drop from a back-in-stock
      const type = rowType(d.changes);
      const trigger = config.triggers.find((t) => t.id === d.trigger && t.enabled && t.type === type);
      const profile = this.reader(d.user, new Date(nowMs).toISOString())?.profile;
      // what the reader viewed tells them of it: only while they allow personalization
      const stop: CancelReason | null = !trigger
        ? "trigger-off"
        : !profile
          ? "reader-gone"
          : consentStops(profile.consent, d.changes !== null, Math.floor(nowMs / 1000));
      // paused: kept for the pause's end when that comes within a day of its due time (core/triggers.ts pauseEnd)
      const resume = stop === "paused" && profile ? pauseEnd(profile.consent.pausedUntil, d.due_at) : null;
      if (resume !== null) {
        recordAttempt(this.sql, d, { kind: "postponed", atMs: resume * 1000 }, nowMs);
        return;
      }
      if (stop || !trigger || !profile) {
        this.cancel(d, stop ?? "reader-gone", nowMs);
        return;
      }
      // The global holdout measures everything opentime does for a reader, so its readers get no triggered email
      // either: on every attempt, as consent is checked, and decided as the open decides it (the arm their profile
      // recorded, else the hash of the seed and share in force; off: nobody). Unknown (KV unreadable, none known in
      // this isolate) fails closed but cancels nothing: the delivery waits, as for an unreadable configuration. A
      // held reader's email once sent cannot be taken back and would blur the control for the holdout's whole run,
      // while a wait costs a minute (a first call a day late is dropped, `stale`). A record that does not parse is
      // none, as opens take it, so the two paths never disagree on who is held.
      if (holdout === undefined) {
        recordAttempt(this.sql, d, later(), nowMs);
        return;
      }
      if (inGlobalHoldout(holdout, d.user, profile.experiments[GLOBAL_HOLDOUT_ID]?.arm ?? null)) {
        // withheld where it would have gone: one the checks of a sent one stop is cancelled for that, as anyone's
        // is, and only a withheld one counts the reader (exposeToHoldout), so both arms enter the report alike
        const due = this.stillDue(d, profile, nowMs, (item) => holds(trigger, item));
        if (!due) return;
        this.cancel(due.row, "holdout", nowMs);
        if (holdout) await this.exposeToHoldout(d.user, GLOBAL_HOLDOUT_ARMS.held, holdout, nowMs);
        return;
      }
      if (!secrets) {
        // once a run, not once a delivery
        if (!unconfiguredLogged)
          logEvent("error", "trigger.not_configured", {
            detail: `TRIGGER_WEBHOOK_SECRET or TOKEN_SECRET is not set (or shorter than ${MIN_SECRET_LENGTH} characters)`,
          });
        unconfiguredLogged = true;
        recordAttempt(this.sql, d, later(), nowMs);
        return;
      }
      const due = this.stillDue(d, profile, nowMs, (item) => holds(trigger, item));
      if (!due) return;
      const { row, viewed } = due;
      markBegun(this.sql, row, nowMs);
      this.inFlight.add(d.delivery);
      this.inFlightReaders.set(d.user, (this.inFlightReaders.get(d.user) ?? 0) + 1);
      try {
        const sent = await deliver(row, trigger, secrets, Date.now(), viewed);
        const outcome: AttemptOutcome =
          sent.verdict === "delivered"
            ? { kind: "delivered", cooldownHours: trigger.cooldownHours }
            : sent.verdict === "refused"
              ? { kind: "refused", sentAt: row.sent_at ?? nowMs }
              : { kind: "failed", retryAfterS: sent.retryAfterS };
        const gaveUp = recordAttempt(this.sql, row, outcome, Date.now());
        if (gaveUp) {
          logEvent("error", "trigger.given_up", {
            trigger: row.trigger,
            delivery: deliveryRef(row.delivery),
            attempts: row.attempts + 1,
            status: sent.status,
            reason: gaveUp,
          });
        }
      } finally {
        this.inFlight.delete(d.delivery);
        const left = (this.inFlightReaders.get(d.user) ?? 1) - 1;
        if (left > 0) this.inFlightReaders.set(d.user, left);
        else this.inFlightReaders.delete(d.user);
      }
      // the email was decided and its first call made (whatever it answered): while the global holdout is on, the
      // reader is counted in its personalized arm, at the moment of the decision, as a withheld one is in the held
      // arm. After the call, so that nothing awaits between the checks above and the call (an opt-out or a
      // purchase landing meanwhile would not stop an email already on its way)
      if (row.attempts === 0 && holdout && holdout.share > 0)
        await this.exposeToHoldout(d.user, GLOBAL_HOLDOUT_ARMS.rest, holdout, nowMs);
    };
    // Workers open at most six connections at once: more would only wait, on the webhook's deadline
    let next = 0;
    const worker = async () => {
      while (next < due.length) await one(due[next++] as DueDelivery);
    };
    await Promise.all(Array.from({ length: Math.min(WEBHOOK_CONCURRENCY, due.length) }, worker));
    // the rest would wait for the same, each batch waking the alarm again at once (up to a day, till they go stale):
    // all put off in one go, those kept past their use ended as endOverdue ends them, and the alarm wakes in a minute
    if (blocked) {
      const nowMs = Date.now();
      for (const ended of postponeDue(this.sql, nowMs, nowMs + POSTPONE_MS)) {
        if (ended.reason === "stale")
          logEvent("info", "trigger.cancelled", { trigger: ended.trigger, reason: "stale" });
        else
          logEvent("error", "trigger.given_up", {
            trigger: ended.trigger,
            delivery: deliveryRef(ended.delivery),
            attempts: ended.attempts,
            reason: ended.reason,
          });
      }
    }
  }

  /**
   * Whether what a viewed-* delivery announces of an item still holds (core/catalog-changes.ts stillHolds), by the
   * live catalog `live` and, for a price drop on an item without a live price, the model catalog's (read only
   * then). Without a live catalog, or a trigger not of a viewed-* type, it does.
   */
  private async announcedHolds(
    viewedDue: readonly DueDelivery[],
    config: TriggersConfig | null,
    live: LiveCatalogView | null,
  ): Promise<(trigger: Trigger | undefined, item: ViewedItem) => boolean> {
    if (!live || !config) return () => true;
    const drops = new Set(config.triggers.filter((t) => t.type === "viewed-price-drop").map((t) => t.id));
    // (a live price with no currency of its own needs none: stillHolds takes it in the announced currency, so the
    // model catalog, tens of MB at 100k items, is read only for a live price cleared back to the model's)
    const unpriced = viewedDue.some(
      (d) =>
        drops.has(d.trigger) &&
        (JSON.parse(d.changes as string) as ViewedItem[]).some(
          (v) => live.catalog.items.get(v.item)?.price === undefined,
        ),
    );
    const base = unpriced ? await basePrices(this.env.OPENTIME_KV) : new Map<string, BasePrice>();
    return (trigger, item) =>
      !trigger ||
      trigger.type === "cart-abandoned" ||
      stillHolds(
        trigger.type === "viewed-price-drop" ? "price-drop" : "back-in-stock",
        item,
        live.catalog.version,
        live.catalog.items.get(item.item),
        base.get(item.item),
      );
  }

  /**
   * The delivery as it is now if it is still to go, else null, cancelled when a check stops it (one too late to send
   * was ended before it, by endOverdue): over the reader's frequency preference (which counts every trigger's
   * sends), checked and claimed with no await between; then the row as it is now (changes may have joined it since
   * the alarm read it), unless the reader bought what it is about since, or (viewed-*) what it announces no longer
   * `holds` for any item; with a viewed-* row, its items not bought that still hold (null: a cart's). A row it returns is marked begun, or cancelled as held, by the
   * caller with no await between: one cancelled here was never sent, and counts for no frequency.
   */
  private stillDue(
    d: DueDelivery,
    profile: Profile,
    nowMs: number,
    holds: (item: ViewedItem) => boolean,
  ): { row: DueDelivery; viewed: ViewedItem[] | null } | null {
    const calling = (this.inFlightReaders.get(d.user) ?? 0) > 0;
    const stopped = cancelBeforeFirstCall(this.sql, d, profile.consent.frequency, nowMs, calling);
    if (stopped) {
      logEvent("info", "trigger.cancelled", { trigger: d.trigger, reason: stopped });
      return null;
    }
    const row = pendingDelivery(this.sql, d);
    if (!row) return null;
    // bought since: every viewed item, or anything after the cart add
    const viewed = row.changes === null ? null : notBought(JSON.parse(row.changes) as ViewedItem[], profile);
    if (viewed ? viewed.length === 0 : (lastPurchaseTs(profile) ?? 0) >= row.cart_ts) {
      this.cancel(row, "purchased", nowMs);
      return null;
    }
    const holding = viewed?.filter(holds) ?? null;
    if (holding?.length === 0) {
      this.cancel(row, "change-undone", nowMs);
      return null;
    }
    return { row, viewed: holding };
  }

  /**
   * A triggered email decided while the global holdout is on, sent (its personalized arm) or withheld (held): the
   * reader enters the holdout's report at that moment, as an open enters them (the same exposure event, so the first
   * of the two counts). Counted at their opens alone, the personalized arm would gain every reader who opened a
   * triggered email, high-intent readers the held arm never gets the chance to count (a review's simulation with no
   * effect at all: +51% conversion, p 0.03). A failure is logged: the delivery goes on, the reader counted at their
   * next open as before.
   */
  private async exposeToHoldout(user: string, arm: string, holdout: GlobalHoldout, atMs: number): Promise<void> {
    const event: QueuedEvent = {
      id: exposureEventId(GLOBAL_HOLDOUT_ID),
      type: "exposure",
      user,
      ts: Math.floor(atMs / 1000),
      exposure: {
        experiment: GLOBAL_HOLDOUT_ID,
        arm,
        campaign: ANY_CAMPAIGN,
        days: GLOBAL_ATTRIBUTION_DAYS,
        phase: holdout.phaseStart ?? INITIAL_PHASE,
      },
    };
    try {
      // published by the alarm's next round: this run's KV operations are its snapshots' and sweeps' (PUBLISH_BATCH)
      await this.apply([event], { publish: false });
    } catch (e) {
      logEvent("error", "trigger.exposure_failed", { detail: errorMessage(e) });
    }
  }

  /** Cancels a due delivery, and says why in the log (the trigger and the reason: never the reader). */
  private cancel(d: DueDelivery, reason: CancelReason, nowMs: number): void {
    recordAttempt(this.sql, d, { kind: "cancelled", reason }, nowMs);
    logEvent("info", "trigger.cancelled", { trigger: d.trigger, reason });
  }

  /**
   * Sends the experiment outbox to D1, in order, a batch at a time; what fails (or is left after
   * OUTBOX_ROUNDS batches) waits for the alarm. Never throws.
   */
  private sendOutbox(): Promise<void> {
    const round = this.sending.then(async () => {
      const db = this.env.DB;
      if (!db) return;
      for (let i = 0; i < OUTBOX_ROUNDS; i++) {
        const batch = pendingRows(this.sql);
        if (!batch) return;
        try {
          await writeRows(db, batch.rows);
        } catch (e) {
          logEvent("error", "experiments.store_failed", { detail: errorMessage(e), rows: batch.rows.length });
          await this.scheduleAlarm(Date.now() + OUTBOX_RETRY_MS);
          return;
        }
        sentUpTo(this.sql, batch.last);
      }
      if (hasPending(this.sql)) await this.scheduleAlarm(Date.now() + 50);
    });
    this.sending = round.catch(() => undefined);
    return this.sending;
  }

  /** Writes the readers' current profiles to KV, respecting the per-key interval; the rest go to the alarm. */
  private publish(users: readonly string[]): Promise<void> {
    const round = this.publishing.then(() => this.publishRound(users));
    this.publishing = round.catch(() => undefined);
    return round;
  }

  private async publishRound(users: readonly string[]): Promise<void> {
    const now = Date.now();
    let later = false;
    const written = await Promise.all(
      users.map(async (user): Promise<[string, number | null] | null> => {
        const reader = this.cache.get(user) ?? this.uncachedState(user);
        if (!reader || reader.version === reader.publishedVersion) return null;
        if (now - reader.publishedAt < this.interval) {
          later = true;
          return null;
        }
        const { version, json } = reader;
        try {
          await this.env.OPENTIME_KV.put(kvKeys.profile(user), json);
          this.heldLogged.delete(user);
          return [user, version];
        } catch (e) {
          later = true;
          // held back (a write of the key given up on may still land: lib/kv-deadline.ts), up to a minute of alarm
          // rounds: said once, as a warning; any other failure each time
          if (e instanceof KvDeadlineError && e.behind) {
            if (!this.heldLogged.has(user)) logEvent("warn", "state.publish_held", { detail: errorMessage(e) });
            this.heldLogged.add(user);
          } else {
            this.heldLogged.delete(user);
            logEvent("error", "state.publish_failed", { detail: errorMessage(e) });
          }
          // tried now: the next try waits one interval
          return [user, null];
        }
      }),
    );
    // what was written, recorded in one transaction (a statement each would commit each)
    const done = written.filter((w) => w !== null);
    if (done.length > 0)
      this.ctx.storage.transactionSync(() => {
        for (const [user, version] of done) {
          if (version === null) this.sql.exec("UPDATE readers SET published_at = ? WHERE user = ?", now, user);
          // not past the row's version: a reader erased and back while the write was out has a new row, whose
          // versions began again, and this write was of the old one (the new row is published in its turn)
          else
            this.sql.exec(
              "UPDATE readers SET published_version = max(published_version, ?), published_at = ? WHERE user = ? AND version >= ?",
              version,
              now,
              user,
              version,
            );
        }
      });
    for (const [user, version] of done) this.cache.published(user, version, now);
    if (later) await this.scheduleAlarm(now + this.interval);
  }

  /** Sets the alarm for `at` unless one is set no later than `at + slackMs`. */
  private async scheduleAlarm(at: number, slackMs = 0): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt <= at + slackMs) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at + slackMs) {
      await this.ctx.storage.setAlarm(at);
      this.alarmAt = at;
    } else this.alarmAt = current;
  }

  /**
   * Deletes the KV decisions of readers erased or gone tracking-off a while ago (decision-sweeps.ts), unless
   * they turned tracking on again, and an erased reader's model features (a seed may have written them just
   * after the erasure's deletion), snapshot and seen ids, and writes their edge tombstone again (the erasure
   * request's KV part may have failed after the shard's), or, for a reader who came back since, deletes it again and
   * publishes their snapshot again (the erasure request's KV part may have landed after the return, writing the one
   * and deleting the other); a KV failure leaves the sweep for later.
   */
  private async sweepDecisions(due: readonly DueSweep[]): Promise<void> {
    const nowIso = new Date().toISOString();
    let swept = 0;
    // the run's KV operations, shared by its sweeps: a sweep the budget cut short is tried again a minute later
    const budget = new KvBudget(CLEANUP_KV_OPS);
    await Promise.all(
      due.map(async (sweep) => {
        const { user } = sweep;
        const reader = this.reader(user, nowIso);
        // a reader who came back (their row says so): their edge tombstones go again; what KV or the budget
        // leaves is tried again a minute later, while their tombstone stands
        let edgeLeft = false;
        if (reader && recordedSince(reader.returned, Date.now()) !== null) {
          // and their snapshot is published again: the erasure request's KV part, landing after the return, may
          // have deleted the one the return published (opens would find no profile until their next event)
          this.sql.exec("UPDATE readers SET published_version = -1 WHERE user = ?", user);
          this.cache.delete(user);
          try {
            edgeLeft = !(await this.deleteEdgeTombstones(user, await erasureHash(user), budget));
          } catch (e) {
            edgeLeft = true;
            logEvent("error", "erasure.return_kv_failed", { detail: errorMessage(e) });
          }
        }
        // (as read before the awaits above: an erasure or opt-out meanwhile queued a sweep of its own, which
        // neither this one's drop nor its retry touches, as both name this one's round and time)
        if (reader?.profile.consent.tracking) {
          if (edgeLeft) sweepDone(this.sql, sweep, false, Date.now());
          else dropSweep(this.sql, sweep);
          return;
        }
        // until the opt-out's snapshot is in KV, opens may still store decisions: the round waits for it
        let ok = !edgeLeft && (!reader || reader.version === reader.publishedVersion);
        try {
          const kv = this.env.OPENTIME_KV;
          const done = [await deleteDecisions(kv, user, budget)];
          if (!reader) {
            done.push(await deleteOwnKeys(kv, kvKeys.featuresPrefix(user), budget));
            // erased: the erasure request's own KV work may have failed part way (it answered 503), so the edge's
            // tombstone is written and the snapshot and seen ids deleted again, while the shard's tombstone stands
            const hash = await erasureHash(user);
            const until = this.tombstoneUntil(hash, Date.now());
            if (until !== null && budget.take(1) === 1) {
              await writeTombstone(kv, hash, (until - Date.now()) / 1000);
              // unless they came back while it was written: the return's snapshot is theirs (its sweeps delete
              // this tombstone again)
              if (this.reader(user, nowIso) === null) done.push(await deleteSnapshot(kv, user, budget));
            } else if (until !== null) done.push({ deleted: 0, pending: 1 });
          }
          for (const d of done) {
            swept += d.deleted;
            if (d.pending > 0) ok = false;
          }
        } catch (e) {
          ok = false;
          logEvent("error", "decisions.sweep_failed", { detail: errorMessage(e) });
        }
        sweepDone(this.sql, sweep, ok, Date.now());
      }),
    );
    // counts only: the sweeps name readers
    if (swept > 0) logEvent("info", "decisions.swept", { keys: swept, readers: due.length });
  }

  /** Deletes everything held of the reader (inside the caller's transaction); the rows deleted. */
  private deleteReader(user: string): number {
    let rows = this.sql.exec("DELETE FROM readers WHERE user = ?", user).rowsWritten;
    rows += deleteApplied(this.sql, user);
    rows += this.sql.exec("DELETE FROM parked WHERE user = ?", user).rowsWritten;
    rows += deleteTriggers(this.sql, user);
    rows += deleteViews(this.sql, user);
    rows += deleteCartItems(this.sql, user);
    rows += deleteOutcomes(this.sql, user);
    rows += deleteClicks(this.sql, user);
    rows += deleteListChange(this.sql, user);
    rows += deleteCampaignSends(this.sql, user);
    return rows;
  }

  private row(user: string): ReaderRow | null {
    return (
      this.sql
        .exec<ReaderRow>(
          "SELECT profile, clock, version, published_version, published_at, returned_at, returned_until FROM readers WHERE user = ?",
          user,
        )
        .toArray()[0] ?? null
    );
  }

  /** The reader as last committed (the cache, or their row, which then joins the cache), or null. */
  private reader(user: string, nowIso: string): (CachedReader & { repaired: boolean }) | null {
    const cached = this.cache.get(user);
    if (cached) return { ...cached, repaired: false };
    const row = this.row(user);
    if (!row) return null;
    const { profile, repaired } = readProfile(row, user, nowIso);
    const entry: CachedReader = {
      profile,
      json: row.profile,
      clock: parseClock(row.clock),
      version: row.version,
      publishedVersion: row.published_version,
      publishedAt: row.published_at,
      returned:
        row.returned_at === null || row.returned_until === null
          ? null
          : { at: row.returned_at, until: row.returned_until },
    };
    // a repaired profile joins the cache once it is written back
    if (!repaired) this.cache.set(user, entry);
    return { ...entry, repaired };
  }

  /** What publishing needs of a reader not in the cache (the profile as stored, not parsed). */
  private uncachedState(
    user: string,
  ): Pick<CachedReader, "json" | "version" | "publishedVersion" | "publishedAt"> | null {
    const row = this.row(user);
    return row
      ? {
          json: row.profile,
          version: row.version,
          publishedVersion: row.published_version,
          publishedAt: row.published_at,
        }
      : null;
  }

  private isTombstoned(hash: string, now: number): boolean {
    return this.tombstoneUntil(hash, now) !== null;
  }

  /** Until when the reader's tombstone stands (ms), or null: none stands, or the reader came back (tombstone-table.ts). */
  private tombstoneUntil(hash: string, now: number): number | null {
    const stone = tombstoneOf(this.sql, hash, now);
    return stone && stone.returnedAt === null ? stone.until : null;
  }
}

/** A reader this shard has not written yet. */
function newReader(profile: Profile): CachedReader {
  return {
    profile,
    json: JSON.stringify(profile),
    clock: {},
    version: 0,
    publishedVersion: -1,
    publishedAt: 0,
    returned: null,
  };
}

function readProfile(row: ReaderRow | null, user: string, nowIso: string): { profile: Profile; repaired: boolean } {
  if (!row) return { profile: emptyProfile(user, nowIso), repaired: false };
  let raw: unknown;
  try {
    raw = JSON.parse(row.profile);
  } catch {
    raw = null;
  }
  const parsed = parseProfile(raw);
  if (parsed.ok) return { profile: parsed.profile, repaired: parsed.migratedFrom !== undefined };
  const salvaged = salvageProfile(raw, user, nowIso);
  logEvent("error", "profile.repaired", { reset: salvaged.reset });
  return { profile: salvaged.profile, repaired: true };
}

function parseClock(raw: string | undefined): ConsentClock {
  try {
    const value = JSON.parse(raw ?? "{}") as unknown;
    if (value && typeof value === "object") {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).filter(
          (kv): kv is [string, number] => typeof kv[1] === "number",
        ),
      );
    }
  } catch {
    // a clock that cannot be read restarts empty: changes then apply in arrival order
  }
  return {};
}

/** The items of a viewed-* delivery the reader has not bought since viewing them. */
function notBought(items: readonly ViewedItem[], p: Profile): ViewedItem[] {
  const bought = new Map(p.purchases.map((x) => [x.item, x.lastTs]));
  return items.filter((i) => (bought.get(i.item) ?? Number.NEGATIVE_INFINITY) < i.viewedAt);
}

/** The time of the latest opt-out of tracking among applied events (unix s). */
function lastTrackingOff(events: readonly QueuedEvent[]): number {
  return events.reduce(
    (at, e) => (e.type === "consent" && e.consent?.tracking === false ? Math.max(at, e.ts) : at),
    Number.NEGATIVE_INFINITY,
  );
}

/** The reader's latest purchase (unix s): the real-time one or the history's, whichever is later. */
function lastPurchaseTs(p: Profile): number | null {
  const t = Math.max(p.rfm.lastPurchaseTs ?? 0, p.purchases[0]?.lastTs ?? 0);
  return t > 0 ? t : null;
}
