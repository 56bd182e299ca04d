/**
 * A model activation or rollback (core/model-versions.ts), made by the moves' one writer (the ModelMover Durable
 * Object, `models`), with a refusal as the API's 409 MODEL_REFUSED. Without the MODEL_MOVER binding (a
 * wrangler.toml from before it) the move is made here, unserialized, and says so in the log. Conditions of
 * campaigns naming a segment the version now served lacks are in the answer and logged (campaign ids, paths and
 * segment names: no reader's data).
 */
import { describeMissing } from "../../core/campaign-segments";
import type { Move } from "../../core/model-versions";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { logEvent } from "../lib/log";
import { bindingKvClient } from "./binding-kv-client";
import { type MoveAnswer, type MoveRequest, makeMove } from "./move-request";

export async function modelMove(env: Bindings, request: MoveRequest): Promise<Move> {
  const answer = env.MODEL_MOVER
    ? await env.MODEL_MOVER.get(env.MODEL_MOVER.idFromName("models")).move(request)
    : await unserialized(env, request);
  if (!answer.ok) throw new ApiError("MODEL_REFUSED", answer.message);
  const done = answer.move;
  if (!done.unchanged)
    logEvent("info", "model.activated", { version: done.pointer.version, previous: done.previous?.version });
  if (done.campaignSegmentsMissing.length > 0)
    logEvent("warn", "model.campaign_segments_missing", {
      version: done.pointer.version,
      count: done.campaignSegmentsMissing.length,
      conditions: done.campaignSegmentsMissing.slice(0, 20).map(describeMissing),
    });
  if (done.campaignsChecked && !done.campaignsChecked.complete)
    logEvent("warn", "model.campaign_segments_unchecked", { version: done.pointer.version, ...done.campaignsChecked });
  return done;
}

function unserialized(env: Bindings, request: MoveRequest): Promise<MoveAnswer> {
  logEvent("warn", "model.move_unserialized", { detail: "no MODEL_MOVER binding: see wrangler.toml" });
  return makeMove(bindingKvClient(env.OPENTIME_KV), request);
}
