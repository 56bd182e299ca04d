/** A model activation or rollback (core/model-versions.ts) with a refusal as the API's 409 MODEL_REFUSED. */
import { ModelsError, type Move } from "../../core/model-versions";
import { ApiError } from "../errors";
import { logEvent } from "../lib/log";

export async function modelMove(move: () => Promise<Move>): Promise<Move> {
  try {
    const done = await move();
    if (!done.unchanged)
      logEvent("info", "model.activated", { version: done.pointer.version, previous: done.previous?.version });
    return done;
  } catch (e) {
    if (e instanceof ModelsError) throw new ApiError("MODEL_REFUSED", e.message);
    throw e;
  }
}
