/**
 * Which change of an experiment the admin API accepts (worker/state/experiment-registry.ts decides it against
 * its own rows): once stored, an experiment keeps its campaign and its seed, since a change would move readers
 * already exposed; and one experiment at a time runs on a campaign. Pure.
 */
import type { Experiment } from "./experiment";

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
