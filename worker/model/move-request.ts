/** A model move asked of the Worker (activate a version, or back to the one before) and how it is made over KV. */
import type { KvClient } from "../../core/kv-client";
import { activate, ModelsError, type Move, rollback } from "../../core/model-versions";

/** `to` (a rollback): the version it must return to, as the dashboard's button named it; else refused */
export type MoveRequest = { kind: "activate"; version: string } | { kind: "rollback"; to?: string };

/** Done, or refused with the pointer unchanged (ModelsError's message: its class does not cross an RPC). */
export type MoveAnswer = { ok: true; move: Move } | { ok: false; message: string };

export async function makeMove(kv: KvClient, request: MoveRequest): Promise<MoveAnswer> {
  try {
    return {
      ok: true,
      move:
        request.kind === "activate" ? await activate(kv, request.version) : await rollback(kv, new Date(), request.to),
    };
  } catch (e) {
    if (e instanceof ModelsError) return { ok: false, message: e.message };
    throw e;
  }
}
