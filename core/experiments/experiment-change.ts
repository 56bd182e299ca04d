/**
 * Which change of an experiment the admin API accepts (worker/state/experiment-registry.ts decides it against
 * its own rows): once stored, an experiment keeps its campaign and its seed, since a change would move readers
 * already exposed; and one experiment at a time runs on a campaign. A change of the arms' shares, or of what an arm
 * shows, starts a new phase, recorded with its time beside each start and stop (recordChange); so does a change of
 * the global holdout (holdoutAfter). Pure.
 */
import {
  type Experiment,
  type ExperimentChange,
  type GlobalHoldout,
  type GlobalHoldoutChange,
  MAX_CHANGES,
} from "./experiment";
import { intendedShares } from "./report";

/**
 * Why `next` may not replace `stored` (null: the experiment is new), given the id of the experiment running on
 * its campaign now (null: none), as a message that names the field; null when the change is accepted.
 */
export function experimentConflict(
  stored: Experiment | null,
  next: Experiment,
  runningOnCampaign: string | null,
): string | null {
  if (stored && stored.campaign !== next.campaign)
    return `campaign: the experiment runs on "${stored.campaign}"; start a new one`;
  if (stored && (stored.seed ?? stored.id) !== (next.seed ?? next.id))
    return "seed: a new seed would move readers not yet exposed; start a new one";
  if (next.status === "running" && runningOnCampaign !== null && runningOnCampaign !== next.id)
    return `campaign: experiment "${runningOnCampaign}" runs on it; stop it first`;
  return null;
}

/**
 * `next` as the registry stores it, and the changes this write records (appended to the stored ones, oldest
 * first; the newest MAX_CHANGES kept). Its phase start is the stored one's, or `nowS` when the arms' intended
 * shares change (weights, variants, holdout: readers drawn from now on are assigned at other shares), when a
 * bandit is turned off (its readers were drawn at the shares the bandit job wrote beside the stored weights, from
 * now on at those weights), or when what a variant shows changes (its content: blocks, copy, rules, subjects,
 * model; readers drawn from now on see only the new one, those drawn before keep their arm and saw the old).
 * A start (created running, or running again) and a stop are recorded too. Whatever the request said of the
 * phase or the changes is not kept: only the registry sets them.
 */
export function recordChange(
  stored: Experiment | null,
  next: Experiment,
  nowS: number,
): { experiment: Experiment; recorded: ExperimentChange[] } {
  const { phaseStart: _, changes: __, ...rest } = next;
  const kept = stored?.phaseStart;
  const banditOff = stored?.bandit !== undefined && next.bandit === undefined;
  const shares = stored !== null && (banditOff || !sameShares(intendedShares(stored), intendedShares(next)));
  const content = stored === null ? [] : changedContent(stored, next);
  const changed = shares || content.length > 0;
  // a phase is named by its start: two changes within a second still make two phases
  const phaseStart = changed ? Math.max(nowS, (kept ?? 0) + 1) : kept;
  const recorded: ExperimentChange[] = [];
  const wasRunning = stored?.status === "running";
  if (next.status === "running" && !wasRunning) recorded.push({ at: nowS, kind: "started" });
  if (phaseStart !== undefined && phaseStart !== kept) {
    if (shares) recorded.push({ at: phaseStart, kind: "shares" });
    if (content.length > 0) recorded.push({ at: phaseStart, kind: "content", arms: content });
  }
  if (next.status === "stopped" && wasRunning) recorded.push({ at: nowS, kind: "stopped" });
  const changes = [...(stored?.changes ?? []), ...recorded].slice(-MAX_CHANGES);
  const experiment: Experiment = {
    ...rest,
    ...(phaseStart !== undefined && { phaseStart }),
    ...(changes.length > 0 && { changes }),
  };
  return { experiment, recorded };
}

/** The variants of both whose content differs (a variant added or removed changes the shares instead). */
export function changedContent(stored: Experiment, next: Experiment): string[] {
  const before = new Map(stored.variants.map((v) => [v.id, v.content]));
  return next.variants.filter((v) => before.has(v.id) && !sameJson(before.get(v.id), v.content)).map((v) => v.id);
}

/** Two JSON values alike, whatever the order of their objects' keys (a campaign's records keep the request's). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return (
    ka.length === kb.length &&
    ka.every(
      (k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    )
  );
}

function sameShares(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && Math.abs((a[k] as number) - (b[k] as number)) < 1e-9);
}

/**
 * The global holdout after `change`. A share changed alone keeps the seed in force (a new seed would move every
 * reader not yet recorded); turning it on, or a new share or seed, starts a phase, as for an experiment (those
 * recorded before keep the arm they had). Turned off, it is a share of 0 that remembers the share and phase it
 * ended (its report still has its arms and its control); turned on again, a new phase (the seed kept).
 */
export function holdoutAfter(
  stored: GlobalHoldout | null,
  change: GlobalHoldoutChange,
  nowS: number,
): GlobalHoldout | null {
  const seed = change.seed ?? stored?.seed ?? "global-holdout";
  if (change.share === 0) {
    if (stored === null) return null;
    if (stored.share === 0) return { ...stored, seed };
    const { share, phaseStart } = stored;
    return { share: 0, seed, ended: { share, ...(phaseStart !== undefined && { phaseStart }), at: nowS } };
  }
  const moved = stored === null || stored.share !== change.share || stored.seed !== seed;
  // after the last phase, the one it ended included: two changes within a second still make two phases
  const last = stored?.phaseStart ?? stored?.ended?.phaseStart ?? 0;
  const phaseStart = moved ? Math.max(nowS, last + 1) : stored.phaseStart;
  return { share: change.share, seed, ...(phaseStart !== undefined && { phaseStart }) };
}
