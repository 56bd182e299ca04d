/**
 * The dashboard's model section as read from Workers KV: the active model and the versions active before it, every
 * stored version, and what the last model button did; or, when KV cannot be read, why, in words the page shows in
 * the section's place (as it says why there are no results without D1). A deploy without the OPENTIME_KV binding
 * reads nothing; a passing KV failure (its rate limit, its own error, a timeout, the day's allowance spent) leaves
 * the rest of the page shown; any other error is a bug, and the one error handler's 500.
 */
import { kvKeys } from "../../core/kv-keys";
import { ActivePointerSchema, ModelHistorySchema } from "../../core/manifest";
import { rollbackTarget, storedVersions } from "../../core/model-versions";
import { unavailableKv } from "../errors";
import { errorMessage, logEvent } from "../lib/log";
import { bindingKvClient } from "../model/binding-kv-client";
import { type ModelMessageQuery, modelMessage } from "./model-message";

export interface ModelHealth {
  /** `rollbackTo`: the version a rollback returns to (core/model-versions.ts rollbackTarget); null: none active */
  model: { active: string; activatedAt: string; history: string[]; rollbackTo: string | null } | null;
  /** every model version stored, newest name first */
  versions: string[];
  /** what the last model action did (model-message.ts) */
  message: string | null;
}

/** Why model health cannot be read on a deploy without the KV binding. */
export const NO_KV_MODEL =
  "Model health cannot be read: no KV namespace is bound as OPENTIME_KV (wrangler.toml), where the models and the active pointer are kept.";

/** The model section, or why it could not be read (`unread`); `moved`: the redirect's query after a model button. */
export async function modelHealth(
  kv: KVNamespace | undefined,
  moved: ModelMessageQuery,
): Promise<ModelHealth | { unread: string }> {
  if (!kv) return { unread: NO_KV_MODEL };
  try {
    // all three started together and awaited together: none is left to reject unawaited when another fails
    const [pointer, history, versions] = await Promise.all([
      kv.get(kvKeys.activeModel, "json").then((v) => ActivePointerSchema.safeParse(v)),
      kv.get(kvKeys.modelHistory, "json").then((v) => ModelHistorySchema.safeParse(v)),
      storedVersions(bindingKvClient(kv)).then((v) => v.sort().reverse()),
    ]);
    const active = pointer.success ? pointer.data.version : null;
    return {
      model: pointer.success
        ? {
            active: pointer.data.version,
            activatedAt: pointer.data.activatedAt,
            history: history.success ? history.data.map((h) => h.version).reverse() : [],
            // the version a rollback returns to (none: no button, nothing to roll back to)
            rollbackTo: (history.success && rollbackTarget(history.data, pointer.data.version)?.target.version) || null,
          }
        : null,
      versions,
      message: await modelMessage(kv, moved, active, versions),
    };
  } catch (e) {
    const passing = unavailableKv(e);
    if (!passing) throw e;
    // never "no model is active" for a pointer unread: the section says it could not be read, and when to reload
    logEvent("warn", "dashboard.model_unread", { detail: errorMessage(e) });
    return {
      unread: passing.daily
        ? "Model health could not be read: Workers KV's daily allowance of this account is spent; reload after 00:00 UTC."
        : "Model health could not be read now: Workers KV failed for a passing reason (its rate limit, its own error, a timeout); reload to try again.",
    };
  }
}
