/**
 * Exposures and what is attributed to them. A reader is exposed to an experiment at the first real open of its
 * campaign (an `exposure` event, queued by the email routes): their profile keeps the arm they saw, which then
 * wins over the experiment's hashes (sticky; core/experiments/assignment.ts) and decides attribution. A click on
 * the experiment's campaign, and any purchase, within the attribution window after the exposure counts for that
 * arm. The earliest exposure wins whatever the arrival order, so a retried or late message never moves a reader.
 * Pure.
 */
import { z } from "zod";
import type { QueuedEvent } from "../events";

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
});
export type Exposure = z.infer<typeof ExposureSchema>;

/** Exposures by experiment id. */
export const ExposuresSchema = z
  .record(z.string().max(64), ExposureSchema)
  .refine((m) => Object.keys(m).length <= MAX_EXPOSURES, { message: `at most ${MAX_EXPOSURES} exposures` });
export type Exposures = z.infer<typeof ExposuresSchema>;

/** An exposure's campaign that every campaign's clicks count for (the global holdout). */
export const ANY_CAMPAIGN = "*";

/** What an `exposure` event carries (the email route decided the arm). */
export interface ExposureFacts {
  experiment: string;
  arm: string;
  campaign: string;
  /** unix seconds: the end of the attribution window */
  until: number;
  /** the campaign block the open served (per-block reporting); absent for a send-time assignment */
  block?: string;
}

/** The exposure event's id: one per reader and experiment, so repeat opens are one exposure. */
export function exposureEventId(experiment: string): string {
  return `exposure:${experiment}`;
}

/** The send-time assignment event's id (subject lines decided at the send): one per reader and experiment. */
export function assignmentEventId(experiment: string): string {
  return `assignment:${experiment}`;
}

/**
 * `exposures` with this exposure (or send-time assignment, `exposed` false) recorded. An exposure is kept if it
 * is the reader's first for the experiment or earlier than the one recorded (the earliest wins, whatever the
 * arrival order; ties keep the recorded one); one that follows an assignment keeps the assigned arm and
 * becomes the exposure. An assignment never replaces what is recorded. Past MAX_EXPOSURES the oldest go.
 * Returns the same object when nothing changed.
 */
export function withExposure(exposures: Exposures, facts: ExposureFacts, at: number, exposed = true): Exposures {
  const known = exposures[facts.experiment];
  let entry: Exposure;
  if (!known) entry = { arm: facts.arm, campaign: facts.campaign, at, until: Math.max(at, facts.until), exposed };
  else if (exposed && !known.exposed) entry = { ...known, at, until: Math.max(at, facts.until), exposed: true };
  else if (exposed && known.at > at) entry = { ...known, arm: facts.arm, at, until: Math.max(at, facts.until) };
  else return exposures;
  const next: Exposures = { ...exposures, [facts.experiment]: entry };
  const ids = Object.keys(next);
  if (ids.length <= MAX_EXPOSURES) return next;
  ids.sort((a, b) => (next[a] as Exposure).at - (next[b] as Exposure).at);
  for (const id of ids.slice(0, ids.length - MAX_EXPOSURES)) delete next[id];
  return next;
}

/** One row for the experiment store (D1): an exposure, or a click or purchase attributed to one. */
export type ExperimentRow =
  | {
      kind: "exposure";
      experiment: string;
      user: string;
      arm: string;
      campaign: string;
      /** the block the first open served */
      block: string | null;
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
      at: number;
    };

/**
 * The experiment rows one applied event makes, given the reader's exposures before it: its own exposure, or
 * for a click on an experiment's campaign (and for any purchase) one row per experiment whose window holds it.
 */
export function experimentRows(e: QueuedEvent, exposures: Exposures): ExperimentRow[] {
  if (e.type === "exposure" && e.exposure) {
    const x = e.exposure;
    // an arm assigned at the send is the one exposed (withExposure keeps it)
    const known = exposures[x.experiment];
    const arm = known && !known.exposed ? known.arm : x.arm;
    if (known?.exposed) return [];
    const block = x.block ?? null;
    return [{ kind: "exposure", experiment: x.experiment, user: e.user, arm, campaign: x.campaign, block, at: e.ts }];
  }
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
      at: e.ts,
    });
  }
  return rows;
}
