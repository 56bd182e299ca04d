/**
 * Model versions a campaign names (`model` in its settings: an experiment's variant comparing a retrained
 * version with the active one, or a campaign held on a version). Up to MAX_PINNED such versions are kept per
 * isolate beside the active one (the model store's), the least recently asked for replaced first and released
 * after the grace period: two arms on two versions do not reload a model at every open. A version that cannot
 * load (missing, failing its check) serves the active model instead (as it is when asked: the failure holds no
 * model of its own), says so (`rejected`), and is tried again a minute later: an open never fails over it; an open
 * also waits for a version still loading OPEN_MODEL_WAIT_MS at most, then is served the active model (the load goes
 * on). As in the model store, the request that starts a load hands it to its `waitUntil`, a load still pending
 * after LOAD_STALE_MS is started anew, and a version whose sessions tripped is loaded again (a minute after its
 * load at the soonest, as a failure is retried).
 */

import type { WaitUntil } from "../lib/background";
import { errorMessage, logEvent } from "../lib/log";
import { within } from "../lib/within";
import {
  isTripped,
  LOAD_STALE_MS,
  type LoadedModel,
  loadVersion,
  type ModelFailure,
  type ModelState,
  OPEN_MODEL_WAIT_MS,
  retire,
} from "./model-store";

/** How long a failed load of a pinned version is remembered before it is tried again. */
const RETRY_MS = 60_000;
/** Pinned versions kept at once (each is a whole model in the isolate's memory). */
export const MAX_PINNED = 2;

/** A pinned version's load: its model, or why it failed (the active model then serves, as it is when asked). */
type PinnedLoad = { ok: true; model: LoadedModel } | { ok: false; reason: ModelFailure };

interface Pinned {
  at: number;
  load: Promise<PinnedLoad>;
  settled: boolean;
  failed: boolean;
  /** the model, once loaded */
  model: LoadedModel | null;
}

/** by version, the most recently asked for last */
const pinned = new Map<string, Pinned>();

export function resetPinnedModel(): void {
  pinned.clear();
}

/** The named version's model, or `active` (the active model's state) when it is that version or cannot load. */
export async function pinnedModel(
  kv: KVNamespace,
  version: string,
  active: Promise<ModelState>,
  now: number,
  waitUntil: WaitUntil,
): Promise<ModelState> {
  const current = await active;
  if (current.ok && current.model.manifest.version === version) {
    // the version became the active one: the active model serves it, and a copy pinned before is released
    const held = pinned.get(version);
    if (held) {
      pinned.delete(version);
      release(held, current);
    }
    return current;
  }
  const held = pinned.get(version);
  const usable =
    held &&
    !((held.failed || (held.model !== null && isTripped(held.model))) && now - held.at >= RETRY_MS) &&
    // a load pending this long is never waited on again (its request may be gone)
    (held.settled || now - held.at < LOAD_STALE_MS);
  if (usable) {
    // most recently asked for: last in the map's order
    pinned.delete(version);
    pinned.set(version, held);
    return served(await openWait(held.load), active, version);
  }
  if (held?.model && isTripped(held.model))
    logEvent("error", "model.session_tripped", { version, detail: "rebuilding the pinned version's sessions" });
  const entry: Pinned = {
    at: now,
    failed: false,
    settled: false,
    model: null,
    load: Promise.resolve({ ok: false, reason: "kv-error" }),
  };
  entry.load = loadVersion(kv, version)
    .then(
      (r): PinnedLoad => {
        if (r.ok) {
          entry.model = r.model;
          return { ok: true, model: r.model };
        }
        entry.failed = true;
        return { ok: false, reason: r.reason };
      },
      (e: unknown): PinnedLoad => {
        entry.failed = true;
        logEvent("error", "model.pinned_failed", { version, detail: errorMessage(e) });
        return { ok: false, reason: "model-corrupt" };
      },
    )
    .finally(() => {
      entry.settled = true;
    });
  if (held) release(held, current);
  pinned.delete(version);
  pinned.set(version, entry);
  // the least recently asked for beyond MAX_PINNED is released once the requests handed it are done
  for (const [name, old] of pinned) {
    if (pinned.size <= MAX_PINNED) break;
    pinned.delete(name);
    release(old, current);
  }
  waitUntil(entry.load);
  return served(await openWait(entry.load), active, version);
}

/** A pinned load as an open waits for it: at most OPEN_MODEL_WAIT_MS, then the active model serves (the load goes on). */
function openWait(load: Promise<PinnedLoad>): Promise<PinnedLoad> {
  return within(load, OPEN_MODEL_WAIT_MS, (): PinnedLoad => ({ ok: false, reason: "model-loading" }));
}

/**
 * What a pinned load serves: its model, or the active one as it is now (a failure keeps no model of its own: an
 * active model replaced since is neither served nor held in memory by it).
 */
async function served(load: PinnedLoad, active: Promise<ModelState>, version: string): Promise<ModelState> {
  return load.ok ? { ok: true, model: load.model } : fallback(await active, version, load.reason);
}

/** Retires a replaced pinned model (not the active one). */
function release(old: Pinned, current: ModelState): void {
  void old.load.then((s) => {
    if (s.ok && s.model !== (current.ok ? current.model : null)) retire(s.model, Date.now());
  });
}

function fallback(
  active: ModelState,
  version: string,
  reason: Extract<ModelState, { ok: false }>["reason"],
): ModelState {
  return active.ok ? { ...active, rejected: { version, reason } } : active;
}
