/**
 * ExperimentRegistry: the one writer of experiments (core/experiments/experiment.ts), a SQLite-backed Durable
 * Object (one instance, `experiments`). Every PUT of the admin API is decided here, in one transaction over the
 * registry's own rows, which are strongly consistent: a changed campaign or seed, or a second experiment running
 * on a campaign (a unique index holds it too), is refused (core/experiments/experiment-change.ts). Two starts
 * on one campaign sent to two locations at once: one wins, the other gets its conflict. A stop always stops.
 *   experiments  one row per experiment: its campaign, whether it runs, its JSON
 *   unpublished  the KV keys a commit changed that KV does not hold yet, with the commit's sequence number
 *
 * Opens never call it: after each commit it publishes to KV what they read (`experiment:<id>`, and
 * `experiment-of:<campaign>`: the campaign's running experiment, or no key). Publishes are serialized and write
 * each key from the registry's state at that moment, so KV's last write is the newest state whatever the order
 * of the commits; a write that failed (KV takes one a second per key) is retried by the alarm.
 *
 * Experiments written to KV before the registry existed are adopted, as KV holds them, by the first PUT that
 * names their id or starts on their campaign.
 */
import { DurableObject } from "cloudflare:workers";
import { type Experiment, ExperimentSchema } from "../../core/experiments/experiment";
import { experimentConflict } from "../../core/experiments/experiment-change";
import { kvKeys } from "../../core/kv-keys";
import type { Bindings } from "../env";
import { readCampaignExperiment, readExperiment } from "../experiments/experiment-store";
import { errorMessage, logEvent } from "../lib/log";

/** A publish that failed is tried again this much later (Workers KV: one write per second per key). */
export const REGISTRY_PUBLISH_RETRY_MS = 1000;

export type RegistryAnswer =
  | {
      ok: true;
      /** no experiment had the id */
      created: boolean;
      /** whether KV holds the change already (else the alarm writes it within seconds) */
      published: boolean;
    }
  | { ok: false; conflict: string };

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS experiments (
     id TEXT PRIMARY KEY, campaign TEXT NOT NULL, running INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID`,
  "CREATE UNIQUE INDEX IF NOT EXISTS one_running_per_campaign ON experiments (campaign) WHERE running = 1",
  // kind: 'experiment' (name: its id) or 'campaign' (name: the campaign id)
  `CREATE TABLE IF NOT EXISTS unpublished (
     kind TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (kind, name)) WITHOUT ROWID`,
  "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
];

type Unpublished = { kind: "experiment" | "campaign"; name: string; seq: number };

export class ExperimentRegistry extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  private publishing: Promise<boolean> = Promise.resolve(true);

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  /** Stores the experiment (validated by the caller) unless it conflicts; then publishes it to KV. */
  async put(experiment: Experiment): Promise<RegistryAnswer> {
    // before the transaction (it cannot await): what KV holds of experiments the registry has never seen
    const adopted = await this.legacy(experiment);
    const answer = this.ctx.storage.transactionSync((): RegistryAnswer => {
      for (const old of adopted) {
        // as KV holds it; a legacy copy running where the registry knows another one running is left out
        this.sql.exec(
          "INSERT OR IGNORE INTO experiments (id, campaign, running, body) VALUES (?, ?, ?, ?)",
          old.id,
          old.campaign,
          old.status === "running" ? 1 : 0,
          JSON.stringify(old),
        );
      }
      const stored = this.stored(experiment.id);
      const conflict = experimentConflict(stored, experiment, this.runningOn(experiment.campaign));
      if (conflict !== null) return { ok: false, conflict };
      this.sql.exec(
        `INSERT INTO experiments (id, campaign, running, body) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET running = excluded.running, body = excluded.body`,
        experiment.id,
        experiment.campaign,
        experiment.status === "running" ? 1 : 0,
        JSON.stringify(experiment),
      );
      const seq = this.meta("seq") + 1;
      this.setMeta("seq", seq);
      for (const [kind, name] of [
        ["experiment", experiment.id],
        ["campaign", experiment.campaign],
      ] as const) {
        this.sql.exec(
          "INSERT INTO unpublished (kind, name, seq) VALUES (?, ?, ?) ON CONFLICT (kind, name) DO UPDATE SET seq = excluded.seq",
          kind,
          name,
          seq,
        );
      }
      return { ok: true, created: stored === null, published: false };
    });
    if (!answer.ok) return answer;
    return { ...answer, published: await this.publish() };
  }

  /** An experiment as the registry holds it (the admin API's read), else as KV holds it (not adopted yet). */
  async get(id: string): Promise<Experiment | null> {
    return this.stored(id) ?? (await readExperiment(this.env.OPENTIME_KV, id));
  }

  /** Up to `limit` of the registry's experiment ids, in id order. */
  async ids(limit: number): Promise<string[]> {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM experiments ORDER BY id LIMIT ?", limit)
      .toArray()
      .map((r) => r.id);
  }

  override async alarm(): Promise<void> {
    await this.publish();
  }

  /** Experiments KV holds that the registry has not seen: the one with this id, and the one running on its campaign. */
  private async legacy(experiment: Experiment): Promise<Experiment[]> {
    const kv = this.env.OPENTIME_KV;
    const found: Experiment[] = [];
    if (!this.stored(experiment.id)) {
      const old = await readExperiment(kv, experiment.id);
      if (old) found.push(old);
    }
    if (experiment.status === "running" && this.runningOn(experiment.campaign) === null) {
      const copy = await readCampaignExperiment(kv, experiment.campaign);
      if (copy && copy.id !== experiment.id && !this.stored(copy.id))
        found.push((await readExperiment(kv, copy.id)) ?? copy);
    }
    return found;
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

  private meta(key: string): number {
    return this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? 0;
  }

  private setMeta(key: string, value: number): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }
}
