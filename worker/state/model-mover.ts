/**
 * ModelMover: the Worker's one writer of `model:active` and `model:history`, a SQLite-backed Durable Object (one
 * instance, `models`). The admin API's and the dashboard's activations and rollbacks (core/model-versions.ts)
 * run here one at a time, so two moves sent at once from two places both land in order: the second moves from
 * the first's pointer and history, never from the state both started with; a version's deletion runs in the same
 * queue, so it never interleaves with an activation of that version. The admin API's listing runs here
 * too, off the isolates that serve opens (it reads the catalog and ONNX bytes of each version it shows), beside the
 * moves.
 *
 * KV is still where the moves are written and where opens read the pointer; the object keeps a copy of what it
 * wrote last (storage key `state`), because a KV read at its location may be up to 60 s old and hide its own
 * last move. A pointer in KV activated later than that copy was moved by another writer (`npm run seed`,
 * `npm run models`): its pointer and history are adopted (core/model-versions.ts, freshestState).
 */
import { DurableObject } from "cloudflare:workers";
import type { KvClient } from "../../core/kv-client";
import {
  freshestState,
  type Listing,
  type ListingPage,
  listVersions,
  MODEL_STATE_KEYS,
} from "../../core/model-versions";
import type { Bindings } from "../env";
import { objectEnv } from "../lib/bounded-env";
import { KeyPacer } from "../lib/key-pacer";
import type { KvDeadlines } from "../lib/kv-deadline";
import { Serial } from "../lib/serial";
import { bindingKvClient } from "../model/binding-kv-client";
import { type DeletionAnswer, makeDeletion } from "../model/model-deletion";
import { type MoveAnswer, type MoveRequest, makeMove } from "../model/move-request";

type StateTexts = Record<string, string | null>;

export class ModelMover extends DurableObject<Bindings> {
  /** the moves, one at a time */
  private readonly moves = new Serial();
  /** KV takes one write a second to a key: a move just after another (a rollback of a mistaken activation) waits */
  private readonly paced = new KeyPacer();

  /** `kvDeadlines`: a test's; the runtime passes none (OBJECT_KV_DEADLINES) */
  constructor(ctx: DurableObjectState, env: Bindings, kvDeadlines?: KvDeadlines) {
    // every KV operation of the object settles in bounded time (lib/bounded-env.ts)
    super(ctx, objectEnv(env, kvDeadlines));
  }

  move(request: MoveRequest): Promise<MoveAnswer> {
    return this.moves.run(async () => makeMove(await this.ownWrites(bindingKvClient(this.env.OPENTIME_KV)), request));
  }

  /** Deletes a version's keys between moves, from the state the last move left (core/model-deletion.ts). */
  remove(version: string): Promise<DeletionAnswer> {
    return this.moves.run(async () =>
      makeDeletion(await this.ownWrites(bindingKvClient(this.env.OPENTIME_KV)), version),
    );
  }

  /**
   * A page of the versions stored, each checked, with the pointer and history as this object last wrote them (or
   * fresher). The pointer and history are read between moves (never half of one); the versions are checked after,
   * outside the queue, one at a time (each check reads a whole catalog and ONNX graph), so a listing never holds a
   * move back.
   */
  async list(page: ListingPage = {}): Promise<Listing> {
    const kv = bindingKvClient(this.env.OPENTIME_KV);
    const state = await this.moves.run(async () => (await this.ownWrites(kv)).getTexts(MODEL_STATE_KEYS));
    return listVersions(
      {
        ...kv,
        getTexts: async (keys) => {
          const texts = await kv.getTexts(keys.filter((k) => !state.has(k)));
          for (const k of keys) if (state.has(k)) texts.set(k, state.get(k) ?? null);
          return texts;
        },
      },
      page,
      1,
    );
  }

  /**
   * KV as a move sees it: its reads of the pointer and history give the freshest of KV's and this object's copy
   * (read once per move); each write of them, once KV took it, goes into the copy.
   */
  private async ownWrites(kv: KvClient): Promise<KvClient> {
    const stored = await this.ctx.storage.get<StateTexts>("state");
    const ours = stored ? new Map(Object.entries(stored)) : null;
    const watched = new Set<string>(MODEL_STATE_KEYS);
    let current: Map<string, string | null> | null = null;
    const state = async () => {
      current ??= freshestState(ours, await kv.getTexts(MODEL_STATE_KEYS));
      return current;
    };
    return {
      ...kv,
      getTexts: async (keys) => {
        const texts = await kv.getTexts(keys.filter((k) => !watched.has(k)));
        if (keys.some((k) => watched.has(k))) for (const [k, v] of await state()) if (keys.includes(k)) texts.set(k, v);
        return texts;
      },
      put: async (key, value) => {
        await this.paced.write(key, () => kv.put(key, value));
        if (!watched.has(key)) return;
        const next = await state();
        next.set(key, typeof value === "string" ? value : new TextDecoder().decode(value));
        await this.ctx.storage.put("state", Object.fromEntries(next) satisfies StateTexts);
      },
    };
  }
}
