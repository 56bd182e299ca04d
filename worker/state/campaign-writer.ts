/**
 * CampaignWriter: the one writer of campaigns (`campaign:<id>` in KV), a SQLite-backed Durable Object (one
 * instance, `campaigns`). The admin API's and the preview editor's writes run here one at a time, each decided
 * on what the writer sees stored (worker/campaigns/campaign-write.ts): two creates of one id sent to two
 * locations at once give one 201 and one 409 (a create of the very campaign stored, a retry, is a 201 that writes
 * nothing), and an edit sent with the `If-Match` its editor read gets 412
 * when another edit landed in between, instead of silently undoing it. Reads for an editor (the admin API's GET,
 * the preview's) come here too, so they see the last write wherever it was made.
 *
 * KV stays where campaigns live and where opens read them. A KV read at this object's location may hide its own
 * write for up to 60 s, so the object keeps each campaign it wrote for OWN_WRITES_MS (table `recent`) and reads
 * that instead; past it, KV is read, which then also shows a write made by another writer (`npm start`'s demo
 * campaigns, a Worker from before this version).
 *   recent  id, the JSON written, when (ms)
 */
import { DurableObject } from "cloudflare:workers";
import { kvKeys } from "../../core/kv-keys";
import {
  type CampaignWrite,
  type CampaignWriteAnswer,
  decideWrite,
  type StoredCampaignText,
  storedText,
} from "../campaigns/campaign-write";
import type { Bindings } from "../env";
import { objectEnv } from "../lib/bounded-env";
import { KeyPacer } from "../lib/key-pacer";
import type { KvDeadlines } from "../lib/kv-deadline";
import { Serial } from "../lib/serial";

/** How long the object trusts its own write over KV's copy: KV's 60 s of propagation, and a margin. */
export const OWN_WRITES_MS = 90_000;

const SCHEMA = ["CREATE TABLE IF NOT EXISTS recent (id TEXT PRIMARY KEY, text TEXT NOT NULL, at INTEGER NOT NULL)"];

export class CampaignWriter extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  /** reads and writes, one at a time */
  private readonly edits = new Serial();
  /**
   * KV takes one write a second to a key: an edit saved just after another (a create and its first edit, two saves
   * of the preview's editor, Ship this arm after an edit) waits out the second instead of being answered 503
   */
  private readonly paced = new KeyPacer();

  /** `kvDeadlines`: a test's; the runtime passes none (OBJECT_KV_DEADLINES) */
  constructor(ctx: DurableObjectState, env: Bindings, kvDeadlines?: KvDeadlines) {
    // every KV operation of the object settles in bounded time (lib/bounded-env.ts)
    super(ctx, objectEnv(env, kvDeadlines));
    this.sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  /** The campaign as stored, its last write included; throws when KV cannot be read. */
  read(id: string): Promise<StoredCampaignText> {
    return this.edits.run(() => this.current(id, Date.now()));
  }

  write(write: CampaignWrite): Promise<CampaignWriteAnswer> {
    return this.edits.run(async () => {
      const now = Date.now();
      const answer = await decideWrite(
        write,
        () => this.current(write.id, now),
        (text) => this.paced.write(write.id, () => this.env.OPENTIME_KV.put(kvKeys.campaign(write.id), text)),
      );
      if (answer.ok && answer.written) {
        this.sql.exec("INSERT OR REPLACE INTO recent (id, text, at) VALUES (?, ?, ?)", write.id, write.text, now);
        this.sql.exec("DELETE FROM recent WHERE at < ?", now - OWN_WRITES_MS);
      }
      return answer;
    });
  }

  private async current(id: string, now: number): Promise<StoredCampaignText> {
    const own = this.sql
      .exec<{ text: string }>("SELECT text FROM recent WHERE id = ? AND at >= ?", id, now - OWN_WRITES_MS)
      .toArray()[0];
    return storedText(own ? own.text : await this.env.OPENTIME_KV.get(kvKeys.campaign(id), "text"));
  }
}
