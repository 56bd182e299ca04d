/**
 * Which change of an experiment the admin API accepts (worker/state/experiment-registry.ts decides it against
 * its own rows): once stored, an experiment keeps its campaign and its seed, since a change would move readers
 * already exposed, and once it has run its attribution window never shortens; and one experiment at a time runs on
 * a campaign. A change of the arms' shares, or of what an arm
 * shows, starts a new phase, recorded with its time beside each start and stop (recordChange); so does a change of
 * the global holdout (holdoutAfter). An experiment may run only if it can measure something (runRefusal), whether a
 * PUT or the dashboard's Start asks. Pure.
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
  // readers exposed keep the window they were exposed under (on their profile), and the report says when its
  // results are final from the window now stored: a shorter one would call them final while they can still move
  if (stored && hasRun(stored) && next.attributionDays < stored.attributionDays)
    return `attributionDays: readers exposed keep their ${stored.attributionDays}-day window, so the report's results would be called final too early; keep it, lengthen it, or start a new experiment`;
  if (next.status === "running" && runningOnCampaign !== null && runningOnCampaign !== next.id)
    return `campaign: experiment "${runningOnCampaign}" runs on it; stop it first`;
  return null;
}

/** Whether an experiment has run (it runs, or a start or stop is recorded): it may have exposed readers. */
function hasRun(experiment: Experiment): boolean {
  return experiment.status === "running" || (experiment.changes?.length ?? 0) > 0;
}

/** Why a running experiment of one variant and no holdout is refused, and what to add. */
const ONE_ARM =
  'variants: one variant and no holdout compares nothing (the variant is its own control): add a second variant, such as {"id":"popular","weight":1,"content":"popular"}, or a holdout (a share of readers, up to 0.5)';

/** Why a running experiment of coverage 0 is refused, and what to send instead. */
const NO_COVERAGE =
  'coverage: 0 covers no reader: nobody would be exposed, and the experiment would run and count nothing. To keep it without serving it, send it with "status":"stopped"; to expose a few readers, a share above 0 (0.01 is 1%)';

/**
 * Why `next` may not run, as a message that names the field, or null. One arm is its own control
 * (core/experiments/report.ts controlOf): it would run and never measure anything; coverage 0 exposes nobody (a
 * new experiment would count nothing, one lowered to 0 only closes to newcomers, a use the README does not offer).
 * Asked when an experiment is set running (a PUT, a Start), never when one is read: a stored one still serves, and
 * a stop is always taken.
 */
export function runRefusal(next: Experiment): string | null {
  if (next.status !== "running") return null;
  if (next.variants.length === 1 && next.holdout === 0) return ONE_ARM;
  if (next.coverage === 0) return NO_COVERAGE;
  return null;
}

/**
 * `next` as the registry stores it, and the changes this write records (appended to the stored ones, oldest
 * first; the newest MAX_CHANGES kept). Its phase start is the stored one's, or `nowS` when the arms' intended
 * shares change (weights, variants, holdout: readers drawn from now on are assigned at other shares), when a
 * bandit is turned off (its readers were drawn at the shares the bandit job wrote beside the stored weights, from
 * now on at those weights), or when what a variant shows changes (its content: blocks, copy, rules, subjects,
 * model; readers drawn from now on see only the new one, those drawn before keep their arm and saw the old).
 * A start (created running, or running again) and a stop are recorded too, and `shipped` (the arm made the campaign
 * for every reader, the dashboard's "Ship this arm") just before its stop. Whatever the request said of the
 * phase or the changes is not kept: only the registry sets them.
 */
export function recordChange(
  stored: Experiment | null,
  next: Experiment,
  nowS: number,
  shipped?: string,
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
  if (shipped !== undefined) recorded.push({ at: nowS, kind: "shipped", arms: [shipped] });
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
