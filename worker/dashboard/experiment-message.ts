/**
 * What the dashboard says after one of an experiment's buttons (POST /dashboard/experiments/<id>/<start|stop|ship>,
 * worker/routes/dashboard-experiment-status.ts and dashboard-experiment-ship.ts): the outcome travels in the
 * redirect as a code of a closed list (`?experiment=<id>&change=<code>&arm=<arm>`), and the page writes the text
 * from the code and from its own reads of the experiment, as the model buttons' (model-message.ts): a link cannot
 * make the page say anything else. A message shows only while the experiment bears it out (stopped after a stop,
 * running after a start, its last change the shipping of the arm named); a refusal says why from the experiment
 * as it is now (core/experiments/experiment-change.ts runRefusal), never from the URL. A press that Workers KV (or
 * the campaigns' writer) failed for a passing reason says what was written: nothing (`not-stopped`, `not-started`,
 * `not-shipped`: retry), or a campaign write KV did not confirm (`ship-unconfirmed`: it may have landed).
 */
import { z } from "zod";
import type { Experiment } from "../../core/experiments/experiment";
import { runRefusal } from "../../core/experiments/experiment-change";

export const EXPERIMENT_OUTCOMES = [
  "stopped",
  "started",
  "start-refused",
  "shipped",
  "ship-campaign-changed",
  "ship-arm-changed",
  "shipped-not-stopped",
  "not-stopped",
  "not-started",
  "not-shipped",
  "ship-unconfirmed",
] as const;
export type ExperimentOutcome = (typeof EXPERIMENT_OUTCOMES)[number];

/** Where the redirect after an experiment's button goes (its own page); `arm`: the arm shipped or asked for. */
export function experimentRedirect(id: string, outcome: ExperimentOutcome, arm?: string): string {
  const query = new URLSearchParams({ experiment: id, change: outcome });
  if (arm !== undefined) query.set("arm", arm);
  return `/dashboard?${query}`;
}

/** The redirect's query as the page reads it: anything outside the closed list is nothing. */
export const ExperimentMessageQuery = z.object({
  change: z.enum(EXPERIMENT_OUTCOMES).optional().catch(undefined),
  arm: z.string().max(32).optional().catch(undefined),
});
export type ExperimentMessageQuery = z.infer<typeof ExperimentMessageQuery>;

/** Why a press changed nothing: the registry's or the campaigns' writer's read of KV failed (a rate limit, an outage). */
const KV_DOWN = "Workers KV could not be read just now";

/** How soon every open follows a change (KV's propagation, up to 60 s, then the isolates' caches' minute). */
const WITHIN = "Opens everywhere follow within about two minutes.";

/** The page's message for a redirect's query about `experiment` (as the registry holds it now), or null. */
export function experimentMessage(query: ExperimentMessageQuery, experiment: Experiment): string | null {
  const { change, arm } = query;
  if (change === undefined) return null;
  const { status, campaign } = experiment;
  // an arm is named only when it is one of the experiment's variants
  const variant = experiment.variants.find((v) => v.id === arm)?.id;
  switch (change) {
    case "stopped":
      return status === "stopped"
        ? `Stopped. Readers now get campaign ${campaign} as it is, and no new reader is counted. ${WITHIN}`
        : null;
    case "started":
      return status === "running"
        ? `Running. Readers counted before keep their arm; new readers are drawn at the same shares. ${WITHIN}`
        : null;
    case "start-refused": {
      if (status !== "stopped") return null;
      const why = runRefusal({ ...experiment, status: "running" });
      return why === null
        ? `Not started: another experiment runs on campaign ${campaign} (one at a time per campaign): stop it first. Nothing changed.`
        : `Not started: ${why}. Nothing changed.`;
    }
    case "shipped": {
      // the last change but its stop: the shipping of this arm (a start since, or another shipping, hides it)
      const last = [...(experiment.changes ?? [])].reverse().find((c) => c.kind !== "stopped");
      const shipped = last?.kind === "shipped" && last.arms?.[0] === variant ? variant : undefined;
      return shipped !== undefined && status === "stopped"
        ? `Shipped ${shipped}: campaign ${campaign} now shows every reader what ${shipped} showed, and the experiment is stopped. ${WITHIN}`
        : null;
    }
    case "ship-campaign-changed":
      return variant === undefined
        ? null
        : `Nothing shipped: campaign ${campaign} was edited since this page was shown, and shipping ${variant} would have overwritten that edit. The experiment is as it was. Look at the campaign (the preview page), then ship again from this page.`;
    case "ship-arm-changed":
      return variant === undefined
        ? null
        : `Nothing shipped: what ${variant} shows changed since this page was shown (an experiment PUT). The experiment and campaign ${campaign} are as they were: look at the report below again, then ship.`;
    case "not-stopped":
      return status === "running"
        ? `Not stopped: ${KV_DOWN}, and nothing was changed: the experiment still runs. Press Stop again in a moment.`
        : null;
    case "not-started":
      return status === "stopped"
        ? `Not started: ${KV_DOWN}, and nothing was changed: the experiment is still stopped. Press Start again in a moment.`
        : null;
    case "not-shipped":
      return variant === undefined
        ? null
        : `Nothing shipped: Workers KV (or the campaigns' writer) could not be used just now (the experiment and campaign ${campaign} are read, then the campaign written), and nothing was written: the experiment and the campaign are as they were. Ship ${variant} again in a moment.`;
    case "ship-unconfirmed":
      return variant === undefined
        ? null
        : `Not confirmed: what ${variant} shows was sent as campaign ${campaign}, but Workers KV (or the campaigns' writer) did not confirm it was stored, so the campaign may show it now or may be as it was; the experiment was not stopped. Ship ${variant} again from this page in a moment (a campaign already showing it is not written twice, and the experiment is then stopped), or look at the campaign first (the preview page).`;
    case "shipped-not-stopped":
      return variant !== undefined && status === "running"
        ? `Campaign ${campaign} now shows what ${variant} showed, but the experiment could not be stopped: its readers still get their arms. Press Stop.`
        : null;
  }
}
