/**
 * ReaderShard: the one writer of reader state, a SQLite-backed Durable Object. Readers are spread over a
 * fixed set of shards (worker/state/shard-routing.ts); each shard holds, for its readers:
 *   readers     the profile (JSON), its consent clock, and whether the edge snapshot is behind
 *   applied     every applied event id (primary key (user, id)): exact idempotency, no window
 *   tombstones  erased readers (by erasure hash), until their tokens have expired
 *   parked      dead letters (events the consumer gave up on), kept for an operator until the reader is erased
 * A call applies a whole queue batch's events for the shard in one transaction. Nothing else writes these.
 *
 * The edge never waits on a shard: after a commit the shard publishes the reader's profile to KV
 * (`profile:<user>`, what every open reads), at most once a second per reader; a reader changed again within
 * the second (or whose write failed) is published by the alarm. Publishes are serialized per shard, so the
 * last write to a key is always the newest profile. A reader the shard has never seen is imported once from KV (`profile:<user>`
 * and `seen:<user>`, the state before this writer existed), so upgrading loses nothing.
 */
import { DurableObject } from "cloudflare:workers";
import { applyEventsSafely, type ConsentClock } from "../../core/apply-events";
import { erasureHash } from "../../core/erasure-key";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile, type Profile, parseProfile, salvageProfile } from "../../core/profile";
import { type Bindings, getConfig } from "../env";
import { isErased } from "../events/erasure";
import { errorMessage, logEvent } from "../lib/log";

/**
 * What became of each event: `applied`, `duplicate` (applied before), `refused` (the reader opted out of
 * tracking), `erased` (dropped: a tombstone stands) or `rejected` (it would make the profile invalid: the
 * consumer retries it, then dead-letters it). All but `rejected` are acknowledged.
 */
export type ApplyOutcome = "applied" | "duplicate" | "refused" | "erased" | "rejected";

/** At most one snapshot write per reader per this many milliseconds (Workers KV: one write per second per key). */
export const PUBLISH_INTERVAL_MS = 1000;
/** Snapshots published per alarm run; more reschedule the alarm at once. */
const ALARM_BATCH = 500;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS readers (
     user TEXT PRIMARY KEY,
     profile TEXT NOT NULL,
     clock TEXT NOT NULL DEFAULT '{}',
     version INTEGER NOT NULL DEFAULT 0,
     published_version INTEGER NOT NULL DEFAULT -1,
     published_at INTEGER NOT NULL DEFAULT 0
   )`,
  "CREATE INDEX IF NOT EXISTS readers_unpublished ON readers (published_at) WHERE version <> published_version",
  "CREATE TABLE IF NOT EXISTS applied (user TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (user, id)) WITHOUT ROWID",
  "CREATE TABLE IF NOT EXISTS tombstones (hash TEXT PRIMARY KEY, until INTEGER NOT NULL)",
  `CREATE TABLE IF NOT EXISTS parked (
     user TEXT NOT NULL, id TEXT NOT NULL, event TEXT NOT NULL, parked_at INTEGER NOT NULL,
     PRIMARY KEY (user, id)) WITHOUT ROWID`,
];

interface ReaderRow extends Record<string, SqlStorageValue> {
  profile: string;
  clock: string;
  version: number;
  published_version: number;
  published_at: number;
}

interface Imported {
  profile: Profile;
  seen: string[];
}

export class ReaderShard extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  /** snapshot publishing, one round at a time */
  private publishing: Promise<void> = Promise.resolve();
  /** when the alarm is set for, as this instance set it (saves a storage read per call); null: unknown or none */
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  /** Applies events of this shard's readers (any order, repeats allowed); one outcome per event, in order. */
  async apply(events: QueuedEvent[]): Promise<ApplyOutcome[]> {
    const byUser = new Map<string, QueuedEvent[]>();
    for (const e of events) byUser.set(e.user, [...(byUser.get(e.user) ?? []), e]);
    const now = Date.now();
    // before the transaction (it cannot await): erasure hashes, and the KV state of readers never seen here
    const prepared = await Promise.all(
      [...byUser.keys()].map(async (user) => {
        const hash = await erasureHash(user);
        if (this.row(user) || this.isTombstoned(hash, now)) return { user, hash, imported: null, erasedAtEdge: false };
        // a reader this shard has never seen: their state from before it, and a tombstone written before it
        const [imported, erasedAtEdge] = await Promise.all([
          this.importFromKv(user),
          isErased(this.env.OPENTIME_KV, user, getConfig(this.env).tokenSecrets),
        ]);
        return { user, hash, imported, erasedAtEdge };
      }),
    );
    const outcome = new Map<string, ApplyOutcome>();
    const changed: string[] = [];
    const nowIso = new Date(now).toISOString();
    this.ctx.storage.transactionSync(() => {
      for (const { user, hash, imported, erasedAtEdge } of prepared) {
        const list = byUser.get(user) ?? [];
        if (erasedAtEdge) this.tombstone(hash, now + getConfig(this.env).erasureTombstoneDays * 86_400_000);
        if (this.isTombstoned(hash, now)) {
          for (const e of list) outcome.set(e.id, "erased");
          continue;
        }
        let row = this.row(user);
        let importedNow = false;
        if (!row && imported) {
          this.sql.exec(
            "INSERT OR IGNORE INTO readers (user, profile) VALUES (?, ?)",
            user,
            JSON.stringify(imported.profile),
          );
          for (const id of imported.seen)
            this.sql.exec("INSERT OR IGNORE INTO applied (user, id) VALUES (?, ?)", user, id);
          row = this.row(user);
          importedNow = true;
        }
        const { profile, repaired } = readProfile(row, user, nowIso);
        const clock = parseClock(row?.clock);
        const unseen = list.filter((e) => !this.wasApplied(user, e.id));
        const res = applyEventsSafely(profile, unseen, nowIso, [], clock);
        for (const id of res.appliedIds)
          this.sql.exec("INSERT OR IGNORE INTO applied (user, id) VALUES (?, ?)", user, id);
        if (res.applied > 0 || repaired || importedNow) {
          this.sql.exec(
            `INSERT INTO readers (user, profile, clock, version) VALUES (?, ?, ?, 1)
             ON CONFLICT (user) DO UPDATE SET profile = excluded.profile, clock = excluded.clock, version = version + 1`,
            user,
            JSON.stringify(res.profile),
            JSON.stringify(clock),
          );
          changed.push(user);
        }
        const rejected = new Set(res.rejectedIds);
        const applied = new Set(res.appliedIds);
        const unseenIds = new Set(unseen.map((e) => e.id));
        const counted = new Set<string>();
        for (const e of list) {
          const first = !counted.has(e.id);
          counted.add(e.id);
          const kind: ApplyOutcome = rejected.has(e.id)
            ? "rejected"
            : first && applied.has(e.id)
              ? "applied"
              : first && unseenIds.has(e.id)
                ? "refused"
                : "duplicate";
          if (first) outcome.set(e.id, kind);
        }
      }
    });
    if (changed.length > 0) await this.publish(changed);
    const returned = new Set<string>();
    return events.map((e) => {
      const kind = outcome.get(e.id) ?? "rejected";
      const repeat = returned.has(e.id);
      returned.add(e.id);
      return repeat && kind !== "rejected" ? "duplicate" : kind;
    });
  }

  /** The reader's profile as this shard holds it (right of access), or null. */
  async read(user: string): Promise<Profile | null> {
    const row = this.row(user);
    return row ? readProfile(row, user, new Date().toISOString()).profile : null;
  }

  /**
   * Keeps dead letters (the consumer gave up on them) for an operator: `parked`, or `erased` (dropped: the
   * reader's tombstone stands). Idempotent by (user, id).
   */
  async park(events: QueuedEvent[]): Promise<("parked" | "erased")[]> {
    const now = Date.now();
    const hashes = await Promise.all(events.map((e) => erasureHash(e.user)));
    const out: ("parked" | "erased")[] = [];
    this.ctx.storage.transactionSync(() => {
      events.forEach((e, i) => {
        if (this.isTombstoned(hashes[i] as string, now)) {
          out.push("erased");
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

  /** How many dead letters of the reader are parked (right of access). */
  async parkedCount(user: string): Promise<number> {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM parked WHERE user = ?", user).one().n;
  }

  /** Whether the reader is erased (their tombstone still stands). */
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
    this.ctx.storage.transactionSync(() => {
      rows += this.sql.exec("DELETE FROM readers WHERE user = ?", user).rowsWritten;
      rows += this.sql.exec("DELETE FROM applied WHERE user = ?", user).rowsWritten;
      rows += this.sql.exec("DELETE FROM parked WHERE user = ?", user).rowsWritten;
      this.tombstone(hash, untilMs);
    });
    await this.scheduleAlarm(untilMs);
    // a snapshot write begun before the deletion must land before the caller deletes the snapshot
    await this.publishing;
    return { rows };
  }

  /** Publishes snapshots that are behind (failed or rate-limited writes), and forgets expired tombstones. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    this.sql.exec("DELETE FROM tombstones WHERE until <= ?", now);
    const due = this.sql
      .exec<{ user: string }>(
        "SELECT user FROM readers WHERE version <> published_version AND published_at <= ? LIMIT ?",
        now - PUBLISH_INTERVAL_MS,
        ALARM_BATCH,
      )
      .toArray()
      .map((r) => r.user);
    if (due.length > 0) await this.publish(due);
    const next = this.sql
      .exec<{ at: number | null }>(
        `SELECT min(at) AS at FROM (
           SELECT min(published_at) + ${PUBLISH_INTERVAL_MS} AS at FROM readers WHERE version <> published_version
           UNION ALL SELECT min(until) AS at FROM tombstones)`,
      )
      .one().at;
    if (next !== null) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 50));
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
    await Promise.all(
      users.map(async (user) => {
        const row = this.row(user);
        if (!row || row.version === row.published_version) return;
        if (now - row.published_at < PUBLISH_INTERVAL_MS) {
          later = true;
          return;
        }
        try {
          await this.env.OPENTIME_KV.put(kvKeys.profile(user), row.profile);
          this.sql.exec(
            "UPDATE readers SET published_version = ?, published_at = ? WHERE user = ?",
            row.version,
            now,
            user,
          );
        } catch (e) {
          later = true;
          logEvent("error", "state.publish_failed", { detail: errorMessage(e) });
          // tried now: the next try waits one interval
          this.sql.exec("UPDATE readers SET published_at = ? WHERE user = ?", now, user);
        }
      }),
    );
    if (later) await this.scheduleAlarm(now + PUBLISH_INTERVAL_MS);
  }

  private async scheduleAlarm(at: number): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) {
      await this.ctx.storage.setAlarm(at);
      this.alarmAt = at;
    } else this.alarmAt = current;
  }

  private tombstone(hash: string, untilMs: number): void {
    this.sql.exec(
      "INSERT INTO tombstones (hash, until) VALUES (?, ?) ON CONFLICT (hash) DO UPDATE SET until = max(until, excluded.until)",
      hash,
      untilMs,
    );
  }

  private row(user: string): ReaderRow | null {
    return (
      this.sql
        .exec<ReaderRow>(
          "SELECT profile, clock, version, published_version, published_at FROM readers WHERE user = ?",
          user,
        )
        .toArray()[0] ?? null
    );
  }

  private wasApplied(user: string, id: string): boolean {
    return this.sql.exec("SELECT 1 FROM applied WHERE user = ? AND id = ?", user, id).toArray().length > 0;
  }

  private isTombstoned(hash: string, now: number): boolean {
    return this.sql.exec("SELECT 1 FROM tombstones WHERE hash = ? AND until > ?", hash, now).toArray().length > 0;
  }

  /** The reader's state from before this writer (KV profile and seen ids), if any. */
  private async importFromKv(user: string): Promise<Imported | null> {
    const [raw, seen] = await Promise.all([
      this.env.OPENTIME_KV.get(kvKeys.profile(user), "json"),
      this.env.OPENTIME_KV.get<unknown>(kvKeys.seen(user), "json"),
    ]);
    if (raw === null && seen === null) return null;
    const nowIso = new Date().toISOString();
    const parsed = raw === null ? null : parseProfile(raw);
    const profile = parsed?.ok
      ? parsed.profile
      : raw === null
        ? emptyProfile(user, nowIso)
        : salvageProfile(raw, user, nowIso).profile;
    const ids = Array.isArray(seen) ? seen.filter((x): x is string => typeof x === "string") : [];
    return { profile, seen: [...new Set([...ids, ...profile.seenEvents])] };
  }
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
