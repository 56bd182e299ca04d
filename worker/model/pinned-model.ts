/**
 * A model version a campaign names (`model` in its settings: an experiment's variant comparing a retrained
 * version with the active one, or a campaign held on a version). One such version is kept per isolate beside
 * the active one (the model store's): asking for another replaces it, the replaced one released after the
 * grace period. A version that cannot load (missing, failing its check) serves the active model instead, says
 * so (`rejected`), and is tried again a minute later: an open never fails over it.
 */
import { errorMessage, logEvent } from "../lib/log";
import { loadVersion, type ModelState, retire } from "./model-store";

/** How long a failed load of a pinned version is remembered before it is tried again. */
const RETRY_MS = 60_000;

let pinned: { version: string; at: number; state: Promise<ModelState>; failed: boolean } | null = null;

export function resetPinnedModel(): void {
  pinned = null;
}

/** The named version's model, or `active` (the active model's state) when it is that version or cannot load. */
export async function pinnedModel(
  kv: KVNamespace,
  version: string,
  active: Promise<ModelState>,
  now: number,
): Promise<ModelState> {
  const current = await active;
  if (current.ok && current.model.manifest.version === version) return current;
  const fresh = pinned && pinned.version === version && !(pinned.failed && now - pinned.at >= RETRY_MS);
  if (!fresh) {
    const replaced = pinned;
    const entry = { version, at: now, failed: false, state: Promise.resolve(current) };
    entry.state = loadVersion(kv, version).then(
      (r): ModelState => {
        if (r.ok) return r;
        entry.failed = true;
        return fallback(current, version, r.reason);
      },
      (e: unknown) => {
        entry.failed = true;
        logEvent("error", "model.pinned_failed", { version, detail: errorMessage(e) });
        return fallback(current, version, "model-corrupt");
      },
    );
    pinned = entry;
    // the version it replaces is released once the requests handed it are done
    void replaced?.state.then((s) => {
      if (s.ok && s.model !== (current.ok ? current.model : null) && !replaced.failed) retire(s.model, Date.now());
    });
  }
  return (pinned as { state: Promise<ModelState> }).state;
}

function fallback(
  active: ModelState,
  version: string,
  reason: Extract<ModelState, { ok: false }>["reason"],
): ModelState {
  return active.ok ? { ...active, rejected: { version, reason } } : active;
}
