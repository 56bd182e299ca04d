/**
 * A model version's deletion asked of the Worker (core/model-deletion.ts): made by the moves' one writer (the
 * ModelMover Durable Object, `models`) between moves, so it reads the pointer and history as the last move left them
 * and no activation of the version can land halfway through it; a refusal is the API's 409 MODEL_REFUSED. Without
 * the MODEL_MOVER binding it is made here, unserialized, and says so in the log. Logs the version and how many keys
 * went (no reader's data).
 */

import type { KvClient } from "../../core/kv-client";
import { type Deletion, deleteVersion, WORKER_READ_LIMITS } from "../../core/model-deletion";
import { ModelsError } from "../../core/model-versions";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { logEvent } from "../lib/log";
import { bindingKvClient } from "./binding-kv-client";

/** Done, or refused with nothing deleted (ModelsError's message: its class does not cross an RPC). */
export type DeletionAnswer = { ok: true; deletion: Deletion } | { ok: false; message: string };

export async function makeDeletion(kv: KvClient, version: string): Promise<DeletionAnswer> {
  try {
    return { ok: true, deletion: await deleteVersion(kv, version, WORKER_READ_LIMITS) };
  } catch (e) {
    if (e instanceof ModelsError) return { ok: false, message: e.message };
    throw e;
  }
}

export async function modelDeletion(env: Bindings, version: string): Promise<Deletion> {
  let answer: DeletionAnswer;
  if (env.MODEL_MOVER) answer = await env.MODEL_MOVER.get(env.MODEL_MOVER.idFromName("models")).remove(version);
  else {
    logEvent("warn", "model.move_unserialized", { detail: "no MODEL_MOVER binding: see wrangler.toml" });
    answer = await makeDeletion(bindingKvClient(env.OPENTIME_KV), version);
  }
  if (!answer.ok) throw new ApiError("MODEL_REFUSED", answer.message);
  logEvent("info", "model.deleted", { version, keys: answer.deletion.deleted.length });
  return answer.deletion;
}
