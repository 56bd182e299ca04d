/**
 * Exposures and what is attributed to them. A reader is exposed to an experiment at the first real open of its
 * campaign (an `exposure` event queued by the email routes, or the exposure a click carries): their profile keeps
 * the arm they saw, which then wins over the experiment's hashes (sticky; core/experiments/assignment.ts) and
 * decides attribution. A click on the experiment's campaign, and any purchase, within the attribution window
 * after the exposure counts for that arm. The first exposure applied is the reader's: later ones (a repeat open,
 * a retried message) change nothing, neither the arm nor the window. An exposure applied after clicks or
 * purchases that followed it (its message retried, or overtaken by the events API's) credits them then
 * (lateAttributedRows), so what is counted does not depend on arrival order. Pure.
 */
import { z } from "zod";
import type { QueuedEvent } from "../events";
import { GLOBAL_HOLDOUT_ID } from "./experiment";

const DAY_SECONDS = 86_400;

/** Experiments a profile remembers (the most recently exposed kept): far more than run at once on a shop. */
export const MAX_EXPOSURES = 50;

/** The arm a reader was exposed to: a variant id, or `holdout`. */
export const ExposureSchema = z.object({
  /** a variant id, or `holdout` (the experiment's own or the global one) */
  arm: z.string().min(1).max(32),
  campaign: z.string().min(1).max(64),
  /** unix seconds of the first real open */
  at: z.number().int(),
  /** unix seconds until which clicks and purchases count for the arm (the experiment's attribution window) */
  until: z.number().int(),
  /**
   * false: assigned when the email was sent (its subject line was the arm's), not opened yet: the arm is kept
   * (so the open serves the arm the subject line promised, whatever the weights are by then) but nothing is
   * attributed to it until the first real open makes it an exposure
   */
  exposed: z.boolean().default(true),
  /** the phase (its `phaseStart`) of the experiment as it was when the arm was drawn; absent: none, or unknown */
  phase: z.number().int().nonnegative().optional(),
  /** `click`: exposed by a click, no open seen yet (absent: by an open, or recorded before this was kept) */
  via: z.literal("click").optional(),
});
export type Exposure = z.infer<typeof ExposureSchema>;

/** Exposures by experiment id. */
export const ExposuresSchema = z
  .record(z.string().max(64), ExposureSchema)
  .refine((m) => Object.keys(m).length <= MAX_EXPOSURES, { message: `at most ${MAX_EXPOSURES} exposures` });
export type Exposures = z.infer<typeof ExposuresSchema>;

/** An exposure's campaign that every campaign's clicks count for (the global holdout). */
export const ANY_CAMPAIGN = "*";

/** What an `exposure` event carries (the email route decided the arm); stored decisions keep it too. */
export const ExposureFactsSchema = z.object({
  experiment: z.string().min(1).max(64),
  /** a variant id, or `holdout` (`personalized` for the global holdout's other arm) */
  arm: z.string().min(1).max(32),
  /** the campaign whose clicks count (ANY_CAMPAIGN: all) */
  campaign: z.string().min(1).max(64),
  /** the attribution window, in days from the exposure (the experiment's attributionDays) */
  days: z.number().int().min(0).max(60),
  /** the campaign block the open served (per-block reporting); absent for a send-time assignment */
  block: z.string().max(64).optional(),
  /**
   * the phase (`phaseStart`, INITIAL_PHASE before any change of shares) of the experiment as the open or the send
   * read it: a phase's sample-ratio check counts only the readers drawn at its shares (not those assigned
   * before, nor an open served from a cache of the shares before); absent in events queued before phases were
   * recorded
   */
  phase: z.number().int().nonnegative().optional(),
});
export type ExposureFacts = z.infer<typeof ExposureFactsSchema>;

/** The phase of an experiment whose shares never changed (it has no `phaseStart`). */
export const INITIAL_PHASE = 0;

/** The exposure event's id: one per reader and experiment, so repeat opens are one exposure. */
export function exposureEventId(experiment: string): string {
  return `exposure:${experiment}`;
}

/** The send-time assignment event's id (subject lines decided at the send): one per reader and experiment. */
export function assignmentEventId(experiment: string): string {
  return `assignment:${experiment}`;
}

/**
 * `exposures` with this exposure (or send-time assignment, `exposed` false) recorded at `at`: the reader's first
 * for the experiment is kept; an exposure that follows an assignment keeps the assigned arm and starts the
 * window at `at`; anything else changes nothing (the first exposure applied stays). Past MAX_EXPOSURES the
 * oldest go, never the global holdout's: the reader's arm there holds for as long as the holdout runs (a
 * reader it forgot would be drawn again, into another arm if its share or seed changed since). Returns the same
 * object when nothing changed.
 */
export function withExposure(
  exposures: Exposures,
  facts: ExposureFacts,
  at: number,
  exposed = true,
  via: "open" | "click" = "open",
): Exposures {
  const known = exposures[facts.experiment];
  const until = at + Math.max(0, facts.days) * DAY_SECONDS;
  const byClick = exposed && via === "click" ? { via: "click" as const } : {};
  let entry: Exposure;
  if (!known) {
    const phase = facts.phase;
    entry = {
      arm: facts.arm,
      campaign: facts.campaign,
      at,
      until,
      exposed,
      ...(phase !== undefined && { phase }),
      ...byClick,
    };
  } else if (exposed && !known.exposed) entry = { ...known, at, until, exposed: true, ...byClick };
  else if (exposed && known.via === "click" && via === "open") {
    // the open a click overtook: an opener after all (the arm stays); an open made before the click (its message
    // retried, or delayed) starts the window, as it would have had it arrived first
    const { via: _, ...opened } = known;
    entry = at < known.at ? { ...opened, at, until } : opened;
  } else return exposures;
  const next: Exposures = { ...exposures, [facts.experiment]: entry };
  const ids = Object.keys(next);
  if (ids.length <= MAX_EXPOSURES) return next;
  // never the one just recorded either: applied late with an old time, it would go at once, its D1 row written and
  // nothing ever attributed to it
  const evictable = ids.filter((id) => id !== GLOBAL_HOLDOUT_ID && id !== facts.experiment);
  evictable.sort((a, b) => (next[a] as Exposure).at - (next[b] as Exposure).at);
  for (const id of evictable.slice(0, ids.length - MAX_EXPOSURES)) delete next[id];
  return next;
}

/**
 * One row for the experiment store (D1): an exposure, a send-time assignment, or a click or purchase attributed
 * to an exposure.
 */
export type ExperimentRow =
  | {
      kind: "exposure";
      experiment: string;
      user: string;
      arm: string;
      campaign: string;
      /** the block the first open served */
      block: string | null;
      /**
       * `open`: a real open; `click`: a click that carried the open's arm, no open seen (images blocked, or a
       * mail privacy proxy's prefetch): such readers enter only by clicking, so a report per open leaves them out
       */
      via: "open" | "click";
      /** the experiment's phase when the arm was drawn (null: none, or unknown) */
      phase: number | null;
      at: number;
    }
  | {
      /** a reader first exposed by a click was seen opening after all (the open came after the click) */
      kind: "opened";
      experiment: string;
      user: string;
      /**
       * an open made before the click (applied after it): its time and the end of the window it starts, which
       * replace the click's; what the click's window credited past `until` is taken back. Absent: the open came
       * after the click (the window stays), or the row was queued before this was kept
       */
      at?: number;
      until?: number;
    }
  | {
      /** the reader's arm was drawn when the email was sent (its subject line): a report per sent reader counts these */
      kind: "assignment";
      experiment: string;
      user: string;
      arm: string;
      campaign: string;
      phase: number | null;
      at: number;
    }
  | {
      kind: "click" | "purchase";
      experiment: string;
      user: string;
      arm: string;
      /** the event's id: a row per event and experiment, so a redelivered event counts once */
      event: string;
      /** the image slot clicked (`row-0`) or `amp`; null for purchases and clicks not from a slot */
      slot: string | null;
      item: string | null;
      /** order value (purchases) */
      value: number;
      /**
       * the value's currency (purchases that gave one; null otherwise). Optional: rows queued in a shard's outbox
       * before it was recorded have none
       */
      currency?: string | null;
      at: number;
    };

/**
 * The exposure rows of an event that exposes (an `exposure` event, or a click carrying the open's exposures),
 * given the reader's exposures before it: one per experiment the reader was not exposed to yet, in the arm
 * recorded at a send if there was one.
 */
export function exposureRows(e: QueuedEvent, exposures: Exposures): ExperimentRow[] {
  const facts =
    e.type === "exposure" ? (e.exposure ? [e.exposure] : []) : e.type === "email_click" ? (e.exposures ?? []) : [];
  return facts.flatMap((x): ExperimentRow[] => {
    const known = exposures[x.experiment];
    if (known?.exposed) {
      // an open applied after the click that exposed the reader (retried, or overtaken): they did open
      const opened = e.type === "exposure" && known.via === "click";
      if (!opened) return [];
      const earlier = e.ts < known.at && { at: e.ts, until: e.ts + Math.max(0, x.days) * DAY_SECONDS };
      return [{ kind: "opened", experiment: x.experiment, user: e.user, ...earlier }];
    }
    const arm = known ? known.arm : x.arm;
    const block = x.block ?? null;
    const via = e.type === "exposure" ? "open" : "click";
    const phase = (known ? known.phase : x.phase) ?? null;
    return [
      {
        kind: "exposure",
        experiment: x.experiment,
        user: e.user,
        arm,
        campaign: x.campaign,
        block,
        via,
        phase,
        at: e.ts,
      },
    ];
  });
}

/**
 * The rows of a send-time assignment, given the reader's exposures before it: a row in the arm the send drew,
 * which is the arm the reader already had if any (sticky); the store keeps the first row per reader and
 * experiment. A reader who opened before their assignment was applied (a retried message) is still one of
 * those sent.
 */
export function assignmentRows(e: QueuedEvent, exposures: Exposures): ExperimentRow[] {
  const x = e.type === "assignment" ? e.exposure : undefined;
  // the global holdout is reported per open, whatever the sends did
  if (!x || x.experiment === GLOBAL_HOLDOUT_ID) return [];
  const known = exposures[x.experiment];
  // the arm the reader already has (an open, or a send, came first: the store keeps the first row it gets)
  if (known && known.arm !== x.arm) return [];
  const phase = (known ? known.phase : x.phase) ?? null;
  return [
    { kind: "assignment", experiment: x.experiment, user: e.user, arm: x.arm, campaign: x.campaign, phase, at: e.ts },
  ];
}

/**
 * The rows of a click on an experiment's campaign, or of a purchase, given the reader's exposures (after the
 * event's own): one per experiment whose window holds it.
 */
export function attributedRows(e: QueuedEvent, exposures: Exposures): ExperimentRow[] {
  if (e.type !== "email_click" && e.type !== "purchase") return [];
  const rows: ExperimentRow[] = [];
  for (const [experiment, x] of Object.entries(exposures)) {
    if (!x.exposed || e.ts < x.at || e.ts > x.until) continue;
    if (e.type === "email_click" && x.campaign !== ANY_CAMPAIGN && e.campaign !== x.campaign) continue;
    rows.push({
      kind: e.type === "purchase" ? "purchase" : "click",
      experiment,
      user: e.user,
      arm: x.arm,
      event: e.id,
      slot: e.slot ?? null,
      item: e.item ?? null,
      value: e.type === "purchase" ? Math.max(0, e.value ?? 0) : 0,
      currency: e.type === "purchase" ? (e.currency ?? null) : null,
      at: e.ts,
    });
  }
  return rows;
}

/**
 * The experiments whose attribution window an applied batch started or moved: those it exposed the reader to, and
 * those whose click-made window an earlier open (applied after the click) moved back to the open.
 */
export function windowsStarted(rows: readonly ExperimentRow[]): string[] {
  return rows.flatMap((r) =>
    r.kind === "exposure" || (r.kind === "opened" && r.at !== undefined) ? [r.experiment] : [],
  );
}

/**
 * The rows of clicks and purchases applied before the exposures that `newlyExposed` names (the experiments an
 * applied batch exposed the reader to, or whose window it moved: windowsStarted), given the reader's exposures after
 * that batch: what attributedRows would have made of each had the exposure arrived first. `earlier` holds those
 * applied in earlier batches and the batch's own: one in the exposure's own second (its window holds it) may have
 * been applied just before it, which time order does not tell apart. `made`: the batch's rows; an outcome they
 * attributed already (applied after its exposure) is not made twice.
 */
export function lateAttributedRows(
  earlier: readonly QueuedEvent[],
  exposures: Exposures,
  newlyExposed: readonly string[],
  made: readonly ExperimentRow[] = [],
): ExperimentRow[] {
  const only: Exposures = {};
  for (const id of newlyExposed) {
    const x = exposures[id];
    if (x) only[id] = x;
  }
  const key = (experiment: string, event: string) => JSON.stringify([experiment, event]);
  const done = new Set(
    made.flatMap((r) => (r.kind === "click" || r.kind === "purchase" ? [key(r.experiment, r.event)] : [])),
  );
  return earlier
    .flatMap((e) => attributedRows(e, only))
    .filter((r) => {
      if (r.kind !== "click" && r.kind !== "purchase") return true;
      const k = key(r.experiment, r.event);
      if (done.has(k)) return false;
      done.add(k);
      return true;
    });
}
