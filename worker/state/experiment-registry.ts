/**
 * ExperimentRegistry: the one writer of experiments (core/experiments/experiment.ts), a SQLite-backed Durable
 * Object (one instance, `experiments`). Every PUT of the admin API, and every start, stop and "ship this arm" of
 * the dashboard (edit: the status changed on the row as held here, so a PUT made since the page was drawn stays),
 * is decided here, in one transaction over the registry's own rows, which are strongly consistent: a changed
 * campaign or seed, or a second experiment running on a campaign (a unique index holds it too), is refused
 * (core/experiments/experiment-change.ts), and so is a PUT whose `If-Match` names another version than the one held
 * (worker/experiments/experiment-etag.ts). Two starts on one campaign sent to two locations at once: one wins, the
 * other gets its conflict.
 *   experiments  one row per experiment: its campaign, whether it runs, its JSON
 *   holdout      the global holdout (PUT /v1/admin/holdout): its JSON, or null when off
 *   unpublished  the KV keys a commit changed that KV does not hold yet, with the commit's sequence number
 *
 * Opens never call it: after each commit it publishes to KV what they read (`experiment:<id>`,
 * `experiment-of:<campaign>`: the campaign's running experiment, or no key; the global holdout). Publishes are serialized and write
 * each key from the registry's state at that moment, so KV's last write is the newest state whatever the order
 * of the commits. The alarm, set in each commit, publishes what a round did not (a failed write: KV takes one
 * a second per key; or the object stopped before its round ended).
 *
 * Experiments written to KV before the registry existed are adopted as opens served them: the one a campaign's
 * KV copy serves runs (adopted by the first PUT naming its id or that campaign), any other is stopped (adopted
 * by the first PUT naming its id; get() shows it so before). KV is rewritten to match. A KV read that fails
 * refuses the PUT (503), never taken for "none".
 */
import { DurableObject } from "cloudflare:workers";
import {
  type Experiment,
  type ExperimentChange,
  ExperimentSchema,
  type GlobalHoldout,
  type GlobalHoldoutChange,
  GlobalHoldoutSchema,
} from "../../core/experiments/experiment";
import { experimentConflict, holdoutAfter, recordChange, runRefusal } from "../../core/experiments/experiment-change";
import { kvKeys } from "../../core/kv-keys";
import type { Bindings } from "../env";
import { unavailableKv } from "../errors";
import { experimentJson } from "../experiments/experiment-etag";
import { readExperiment, readGlobalHoldout, readServedExperiment } from "../experiments/experiment-store";
import { objectEnv } from "../lib/bounded-env";
import { entityTag, type IfMatch, matches } from "../lib/entity-tag";
import type { KvDeadlines } from "../lib/kv-deadline";
import { errorMessage, logEvent } from "../lib/log";
import { META_SCHEMA, readMeta, writeMeta } from "./sql-tables";

/** A publish that failed is tried again this much later (Workers KV: one write per second per key). */
export const REGISTRY_PUBLISH_RETRY_MS = 1000;

export type HoldoutAnswer =
  | {
      ok: true;
      /** as stored (null: off) */
      holdout: GlobalHoldout | null;
      /** whether KV holds the change already (else the alarm writes it within seconds) */
      published: boolean;
    }
  | { ok: false; code: "KV_UNAVAILABLE"; message: string };

export type RegistryAnswer =
  | {
      ok: true;
      /** no experiment had the id */
      created: boolean;
      /** whether KV holds the change already (else the alarm writes it within seconds) */
      published: boolean;
      /** as stored: with its phase start and its changes (core/experiments/experiment-change.ts, recordChange) */
      experiment: Experiment;
      /** what this PUT recorded: a start or stop, a new phase (shares, or what arms show), each with its time */
      recorded: ExperimentChange[];
    }
  | {
      ok: false;
      /**
       * EXPERIMENT_CONFLICT: the change is refused; EXPERIMENT_CHANGED: a PUT's `If-Match` names another version
       * than the one held (another write landed since it was read); KV_UNAVAILABLE: KV could not be read to adopt
       * what it holds; NOT_FOUND: an edit of an experiment there is not
       */
      code: "EXPERIMENT_CONFLICT" | "EXPERIMENT_CHANGED" | "KV_UNAVAILABLE" | "NOT_FOUND";
      message: string;
    };

/**
 * A change of a stored experiment's status alone (the dashboard's buttons): start or stop it; or `ship`: the arm
 * named was made its campaign for every reader (by the caller, before), recorded, then the experiment stopped.
 */
export type ExperimentEdit = { status: Experiment["status"] } | { ship: string };

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS experiments (
     id TEXT PRIMARY KEY, campaign TEXT NOT NULL, running INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID`,
  "CREATE UNIQUE INDEX IF NOT EXISTS one_running_per_campaign ON experiments (campaign) WHERE running = 1",
  // the global holdout: one row once the registry holds it (body null: off)
  "CREATE TABLE IF NOT EXISTS holdout (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT)",
  // kind: 'experiment' (name: its id), 'campaign' (name: the campaign id) or 'holdout' (name: 'global')
  `CREATE TABLE IF NOT EXISTS unpublished (
     kind TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (kind, name)) WITHOUT ROWID`,
  META_SCHEMA,
];

type Unpublished = { kind: "experiment" | "campaign" | "holdout"; name: string; seq: number };

export class ExperimentRegistry extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  private publishing: Promise<boolean> = Promise.resolve(true);

  /** `kvDeadlines`: a test's; the runtime passes none (OBJECT_KV_DEADLINES) */
  constructor(ctx: DurableObjectState, env: Bindings, kvDeadlines?: KvDeadlines) {
    // every KV operation of the object settles in bounded time (lib/bounded-env.ts)
    super(ctx, objectEnv(env, kvDeadlines));
    this.sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  /**
   * Stores the experiment (validated by the caller) unless it conflicts, or `ifMatch` (the PUT's If-Match or
   * If-None-Match: *) names another version than get() shows; then publishes it to KV.
   */
  put(experiment: Experiment, ifMatch: IfMatch = null): Promise<RegistryAnswer> {
    return this.commit(experiment, undefined, ifMatch);
  }

  /**
   * Starts, stops or concludes (`ship`) experiment `id`: its row as the registry holds it in the transaction, its
   * status alone changed, decided as a PUT of it would be (a start refused when another runs on its campaign, or
   * when it would measure nothing: core/experiments/experiment-change.ts runRefusal); then published to KV.
   */
  async edit(id: string, edit: ExperimentEdit): Promise<RegistryAnswer> {
    // the registry's, or KV's not adopted yet (the commit adopts it, as a PUT naming it would)
    const found = await this.find(id);
    if (!found.ok) return found;
    if (!found.experiment) return { ok: false, code: "NOT_FOUND", message: `no experiment "${id}"` };
    return this.commit(found.experiment, edit);
  }

  /**
   * An experiment about to be changed (edit(), the dashboard's Ship this arm): as get(), but KV read strictly, so
   * an outage is KV_UNAVAILABLE (nothing changed: retry), never taken for an experiment there is not (NOT_FOUND).
   */
  async find(
    id: string,
  ): Promise<{ ok: true; experiment: Experiment | null } | { ok: false; code: "KV_UNAVAILABLE"; message: string }> {
    try {
      return { ok: true, experiment: await this.lookup(id, true) };
    } catch (e) {
      // a KV failure for a passing reason (worker/errors.ts); anything else is no outage, and goes to the handler
      if (!unavailableKv(e)) throw e;
      return { ok: false, code: "KV_UNAVAILABLE", message: `KV could not be read: ${errorMessage(e)}` };
    }
  }

  /**
   * One change in one transaction: `experiment` as sent (a PUT), or, with `edit`, the stored row with its status
   * changed (`experiment` then only names it: its id and campaign, for the adoption of what KV holds).
   */
  private async commit(
    experiment: Experiment,
    edit?: ExperimentEdit,
    ifMatch: IfMatch = null,
  ): Promise<RegistryAnswer> {
    // before the transaction (it cannot await): what KV holds of experiments the registry has never seen
    let legacy: Experiment[];
    try {
      legacy = await this.legacy(experiment);
    } catch (e) {
      return { ok: false, code: "KV_UNAVAILABLE", message: `KV could not be read: ${errorMessage(e)}` };
    }
    // the precondition, on what get() shows now (tagging awaits); the transaction then checks that it still shows
    // the same JSON: a write landed in between was made after the caller's read, so its tag is out of date too
    let shownJson: string | null = null;
    if (ifMatch !== null) {
      const shown = this.has(experiment.id)
        ? this.stored(experiment.id)
        : (legacy.find((e) => e.id === experiment.id) ?? null);
      shownJson = shown && experimentJson(shown);
      const tag = shownJson === null ? null : await entityTag(shownJson);
      if (!matches(ifMatch, tag))
        return changedSinceRead(experiment.id, tag === null ? "none is stored" : `its ETag is ${tag}`);
    }
    const answer = this.ctx.storage.transactionSync((): RegistryAnswer => {
      const seq = readMeta(this.sql, "seq") + 1;
      writeMeta(this.sql, "seq", seq);
      this.adopt(legacy, seq);
      const row = this.sql
        .exec<{ body: string; campaign: string }>("SELECT body, campaign FROM experiments WHERE id = ?", experiment.id)
        .toArray()[0];
      const stored = row ? this.parse(row.body) : null;
      if (ifMatch !== null && (stored && experimentJson(stored)) !== shownJson)
        return changedSinceRead(experiment.id, "another write landed as this one was checked");
      // a row that does not parse (logged) can still be stopped on its campaign by a PUT, and nothing else
      const stopsUnreadable = !edit && experiment.status === "stopped" && experiment.campaign === row?.campaign;
      if (row && !stored && !stopsUnreadable)
        return {
          ok: false,
          code: "EXPERIMENT_CONFLICT",
          message:
            "the stored experiment cannot be read (logged as experiment.registry_invalid): stop it, or start a new one",
        };
      const wanted = edit ? edited(stored, edit) : { experiment };
      if ("refusal" in wanted) return { ok: false, code: "EXPERIMENT_CONFLICT", message: wanted.refusal };
      const conflict = experimentConflict(stored, wanted.experiment, this.runningOn(experiment.campaign));
      if (conflict !== null) return { ok: false, code: "EXPERIMENT_CONFLICT", message: conflict };
      const shipped = edit && "ship" in edit ? edit.ship : undefined;
      const nowS = Math.floor(Date.now() / 1000);
      const { experiment: next, recorded } = recordChange(stored, wanted.experiment, nowS, shipped);
      this.sql.exec(
        `INSERT INTO experiments (id, campaign, running, body) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET campaign = excluded.campaign, running = excluded.running, body = excluded.body`,
        experiment.id,
        experiment.campaign,
        next.status === "running" ? 1 : 0,
        JSON.stringify(next),
      );
      this.unpublished("experiment", experiment.id, seq);
      this.unpublished("campaign", experiment.campaign, seq);
      return { ok: true, created: row === undefined, published: false, experiment: next, recorded };
    });
    // set with the commit (no other await between them): should this object stop before a round publishes
    // what the transaction marked (its change, or what it adopted beside a conflict), the alarm does
    if (this.sql.exec("SELECT 1 FROM unpublished LIMIT 1").toArray().length > 0)
      await this.ctx.storage.setAlarm(Date.now() + REGISTRY_PUBLISH_RETRY_MS);
    if (!answer.ok) return answer;
    return { ...answer, published: await this.publish() };
  }

  /**
   * An experiment as the registry holds it (the admin API's read; null for a row that does not parse), else as
   * KV holds it (not adopted yet).
   */
  async get(id: string): Promise<Experiment | null> {
    return this.lookup(id, false);
  }

  /** get()'s, `strict`: a failed KV read throws (find()), else it is logged and taken for none. */
  private async lookup(id: string, strict: boolean): Promise<Experiment | null> {
    if (this.has(id)) return this.stored(id);
    // not adopted yet: as opens serve it (what its adoption will store)
    const kv = this.env.OPENTIME_KV;
    const own = await readExperiment(kv, id, strict);
    if (!own) return null;
    try {
      return asServed(own, await readServedExperiment(kv, own.campaign, true));
    } catch {
      return own; // the copy cannot be read now: the record as KV holds it
    }
  }

  /** Up to `limit` of the registry's experiment ids after `after` (a page's last), in id order. */
  async ids(limit: number, after = ""): Promise<string[]> {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM experiments WHERE id > ? ORDER BY id LIMIT ?", after, limit)
      .toArray()
      .map((r) => r.id);
  }

  /**
   * Every running experiment the registry holds, in id order (the bandit job): one per campaign at most, however
   * many stopped ones are stored; a row that does not parse is left out (logged).
   */
  async running(): Promise<Experiment[]> {
    return this.sql
      .exec<{ body: string }>("SELECT body FROM experiments WHERE running = 1 ORDER BY id")
      .toArray()
      .flatMap((r) => this.parse(r.body) ?? []);
  }

  override async alarm(): Promise<void> {
    await this.publish();
  }

  /**
   * Changes the global holdout in one transaction over the registry's row (core/experiments/experiment-change.ts,
   * holdoutAfter: the seed in force kept, a phase started), then publishes it to KV (its one key, none
   * when off), as experiments are. Until the registry holds it, KV's record is adopted (a strict read).
   */
  async putHoldout(change: GlobalHoldoutChange): Promise<HoldoutAnswer> {
    let legacy: GlobalHoldout | null = null;
    if (!this.holdsHoldout()) {
      try {
        legacy = await readGlobalHoldout(this.env.OPENTIME_KV, true);
      } catch (e) {
        return { ok: false, code: "KV_UNAVAILABLE", message: `KV could not be read: ${errorMessage(e)}` };
      }
    }
    const holdout = this.ctx.storage.transactionSync(() => {
      const seq = readMeta(this.sql, "seq") + 1;
      writeMeta(this.sql, "seq", seq);
      const stored = this.holdsHoldout() ? this.holdout() : legacy;
      const next = holdoutAfter(stored, change, Math.floor(Date.now() / 1000));
      this.sql.exec(
        "INSERT INTO holdout (id, body) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
        next && JSON.stringify(next),
      );
      this.unpublished("holdout", "global", seq);
      return next;
    });
    await this.ctx.storage.setAlarm(Date.now() + REGISTRY_PUBLISH_RETRY_MS);
    return { ok: true, holdout, published: await this.publish() };
  }

  /** The global holdout as the registry holds it (null: off), else as KV holds it (not adopted yet). */
  async getHoldout(): Promise<GlobalHoldout | null> {
    return this.holdsHoldout() ? this.holdout() : readGlobalHoldout(this.env.OPENTIME_KV);
  }

  private holdsHoldout(): boolean {
    return this.sql.exec("SELECT 1 FROM holdout").toArray().length > 0;
  }

  private holdout(): GlobalHoldout | null {
    const body = this.sql.exec<{ body: string | null }>("SELECT body FROM holdout").toArray()[0]?.body ?? null;
    if (body === null) return null;
    const parsed = GlobalHoldoutSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : null;
  }

  /**
   * What KV holds that the registry has not seen (strict reads: an outage throws; an entry that does not parse
   * is what opens and reports take for none, and so does the registry), as opens served it: the experiment
   * KV's copy serves on the PUT's campaign, in the copy's body; and the PUT's own experiment, running in its
   * copy's body if that is what its campaign serves, else stopped (whatever its record says: nothing served it).
   */
  private async legacy(experiment: Experiment): Promise<Experiment[]> {
    const kv = this.env.OPENTIME_KV;
    const servedOn = (campaign: string) =>
      this.runningOn(campaign) === null ? readServedExperiment(kv, campaign, true) : null;
    const found: Experiment[] = [];
    const served = await servedOn(experiment.campaign);
    if (served && !this.has(served.id)) found.push(served);
    if (served?.id !== experiment.id && !this.has(experiment.id)) {
      const own = await readExperiment(kv, experiment.id, true);
      if (own) {
        const ownServed = own.campaign === experiment.campaign ? served : await servedOn(own.campaign);
        found.push(asServed(own, ownServed));
      }
    }
    return found;
  }

  /**
   * Adopts what legacy() found, in the caller's transaction (rows the registry got meanwhile stay as they are),
   * and has KV rewritten to match (the record, and the campaign's copy of one that runs). One running where the
   * registry already holds another running on its campaign (it started meanwhile) is adopted stopped.
   */
  private adopt(found: readonly Experiment[], seq: number): void {
    for (const old of found) {
      if (this.has(old.id)) continue;
      const clashes = old.status === "running" && this.runningOn(old.campaign) !== null;
      const adopted: Experiment = clashes ? { ...old, status: "stopped" } : old;
      this.sql.exec(
        "INSERT INTO experiments (id, campaign, running, body) VALUES (?, ?, ?, ?)",
        adopted.id,
        adopted.campaign,
        adopted.status === "running" ? 1 : 0,
        JSON.stringify(adopted),
      );
      this.unpublished("experiment", adopted.id, seq);
      // its campaign's copy is rewritten only from the one that runs: a copy naming another experiment the
      // registry has not seen yet stays (this PUT's own campaign is published from its result in any case)
      if (adopted.status === "running") this.unpublished("campaign", adopted.campaign, seq);
    }
  }

  private unpublished(kind: Unpublished["kind"], name: string, seq: number): void {
    this.sql.exec(
      "INSERT INTO unpublished (kind, name, seq) VALUES (?, ?, ?) ON CONFLICT (kind, name) DO UPDATE SET seq = excluded.seq",
      kind,
      name,
      seq,
    );
  }

  private has(id: string): boolean {
    return this.sql.exec("SELECT 1 FROM experiments WHERE id = ?", id).toArray().length > 0;
  }

  private stored(id: string): Experiment | null {
    const row = this.sql.exec<{ body: string }>("SELECT body FROM experiments WHERE id = ?", id).toArray()[0];
    return row ? this.parse(row.body) : null;
  }

  private runningOn(campaign: string): string | null {
    return (
      this.sql
        .exec<{ id: string }>("SELECT id FROM experiments WHERE campaign = ? AND running = 1", campaign)
        .toArray()[0]?.id ?? null
    );
  }

  private parse(body: string): Experiment | null {
    try {
      return ExperimentSchema.parse(JSON.parse(body));
    } catch (e) {
      logEvent("error", "experiment.registry_invalid", { detail: errorMessage(e) });
      return null;
    }
  }

  /** Writes every unpublished key to KV, one round at a time. */
  private publish(): Promise<boolean> {
    const round = this.publishing.then(() => this.publishRound());
    this.publishing = round.catch(() => false);
    return round;
  }

  private async publishRound(): Promise<boolean> {
    const kv = this.env.OPENTIME_KV;
    const due = this.sql.exec<Unpublished>("SELECT kind, name, seq FROM unpublished ORDER BY seq").toArray();
    let failed = 0;
    for (const { kind, name, seq } of due) {
      try {
        if (kind === "experiment") {
          const row = this.sql.exec<{ body: string }>("SELECT body FROM experiments WHERE id = ?", name).toArray()[0];
          if (row) await kv.put(kvKeys.experiment(name), row.body);
        } else if (kind === "holdout") {
          const held = this.holdout();
          if (held) await kv.put(kvKeys.globalHoldout, JSON.stringify(held));
          else await kv.delete(kvKeys.globalHoldout);
        } else {
          const row = this.sql
            .exec<{ body: string }>("SELECT body FROM experiments WHERE campaign = ? AND running = 1", name)
            .toArray()[0];
          if (row) await kv.put(kvKeys.campaignExperiment(name), row.body);
          else await kv.delete(kvKeys.campaignExperiment(name));
        }
        // a commit during the write asked for the key again (a newer seq): it stays for the next round
        this.sql.exec("DELETE FROM unpublished WHERE kind = ? AND name = ? AND seq = ?", kind, name, seq);
      } catch (e) {
        failed += 1;
        logEvent("error", "experiment.publish_failed", { kind, detail: errorMessage(e) });
      }
    }
    if (failed > 0) await this.ctx.storage.setAlarm(Date.now() + REGISTRY_PUBLISH_RETRY_MS);
    return failed === 0;
  }
}

/** A PUT's If-Match (or If-None-Match: *) that names another version than the one held. */
function changedSinceRead(id: string, now: string): RegistryAnswer {
  return {
    ok: false,
    code: "EXPERIMENT_CHANGED",
    message: `experiment ${id} changed since it was read (${now}): read it again, then PUT`,
  };
}

/**
 * The stored experiment as an edit changes it, or why it may not: the arm to ship must be one of its variants
 * showing a campaign; a start, one that can measure something.
 */
function edited(stored: Experiment | null, edit: ExperimentEdit): { experiment: Experiment } | { refusal: string } {
  if (!stored) return { refusal: "the stored experiment cannot be read (logged as experiment.registry_invalid)" };
  if ("ship" in edit) {
    const variant = stored.variants.find((v) => v.id === edit.ship);
    if (!variant || variant.content === "popular")
      return { refusal: `arm "${edit.ship}": not a variant of the experiment showing a campaign` };
    return { experiment: { ...stored, status: "stopped" } };
  }
  const experiment: Experiment = { ...stored, status: edit.status };
  const refusal = runRefusal(experiment);
  return refusal === null ? { experiment } : { refusal };
}

/**
 * An experiment not adopted yet, as opens served it: running, in its campaign's copy, if that copy names it;
 * else stopped.
 */
function asServed(own: Experiment, served: Experiment | null): Experiment {
  return served?.id === own.id ? served : { ...own, status: "stopped" };
}
