/**
 * An experiment's buttons on its dashboard page, and what each does in plain words: Stop for a running one, Start
 * for a stopped one (POST /dashboard/experiments/<id>/<stop|start>), and per arm "Ship this arm" (POST
 * /dashboard/experiments/<id>/ship) where the arm shows a campaign, with the report's verdict beside it
 * (arm-verdict.ts: offered whether or not it won, and said so), or why it is not offered (`popular` and the
 * holdout). Each ship form carries what the page showed: the arm's tag and the campaign's ETag, so a change made
 * meanwhile is refused, never overwritten. The global holdout has none (PUT /v1/admin/holdout); without the
 * registry binding there is nothing to press.
 */
import { type Experiment, GLOBAL_HOLDOUT_ID, HOLDOUT_ARM } from "../../core/experiments/experiment";
import { campaignForEdit } from "../campaigns/campaign-edits";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import type { ExperimentReport } from "../experiments/experiment-report";
import { entityTag } from "../lib/entity-tag";
import { errorMessage, logEvent } from "../lib/log";
import { armVerdict } from "./arm-verdict";

/** The tag of what an arm shows: the page puts it in the ship form, the route compares it with the arm's now. */
export function armTag(content: unknown): Promise<string> {
  return entityTag(JSON.stringify(content));
}

export interface ShipRow {
  arm: string;
  /** the form's fields (null: not offered, `why` says why) */
  form: { armTag: string; campaignEtag: string } | null;
  why: string | null;
  verdict: { winner: boolean; text: string } | null;
}

export interface ExperimentControls {
  id: string;
  campaign: string;
  running: boolean;
  stopNote: string;
  startNote: string;
  ship: ShipRow[];
  /** why no arm can be shipped now (the campaign could not be read), or null */
  shipUnavailable: string | null;
}

/** Why the popular items cannot be shipped: a campaign holds no "nothing of the reader". */
const NOT_A_CAMPAIGN =
  "popular items with nothing of the reader used, which no campaign can hold (a campaign's recommendations are personalized). To keep the campaign as it is, press Stop instead.";

export async function experimentControls(
  env: Bindings,
  experiment: Experiment,
  report: ExperimentReport | null,
): Promise<ExperimentControls | null> {
  if (experiment.id === GLOBAL_HOLDOUT_ID || !env.EXPERIMENT_REGISTRY) return null;
  const { id, campaign, attributionDays } = experiment;
  let etag: string | null | undefined;
  try {
    etag = (await campaignForEdit(env, campaign)).etag;
  } catch (e) {
    // KV or the campaigns' writer unavailable (a bug is not caught): Stop and Start stay, only shipping needs the tag
    if (!(e instanceof ApiError)) throw e;
    logEvent("warn", "dashboard.campaign_unread", { campaign, detail: errorMessage(e) });
  }
  const rows: ShipRow[] = await Promise.all(
    experiment.variants.map(async (v): Promise<ShipRow> => {
      if (v.content === "popular")
        return { arm: v.id, form: null, why: `Not offered: ${v.id} serves ${NOT_A_CAMPAIGN}`, verdict: null };
      return {
        arm: v.id,
        form: etag === undefined ? null : { armTag: await armTag(v.content), campaignEtag: etag ?? "" },
        why: null,
        verdict: report ? armVerdict(report, v.id) : null,
      };
    }),
  );
  if (experiment.holdout > 0)
    rows.push({
      arm: HOLDOUT_ARM,
      form: null,
      why: `Not offered: the holdout serves ${NOT_A_CAMPAIGN}`,
      verdict: null,
    });
  return {
    id,
    campaign,
    running: experiment.status === "running",
    stopNote: `Stopping: from their next open (within about two minutes), every reader gets campaign ${campaign} as it is, whatever their arm, and no new reader is counted. Clicks and purchases of readers already counted still count for their arm within ${attributionDays} days of their exposure. Nothing is deleted.`,
    startNote:
      "Starting again: readers counted before keep their arm, and readers not counted yet are drawn at the same shares. No new phase begins (only a change of shares or of what an arm shows starts one): the results pool the readers from before and after the stop, and the pause shows under Changes. Readers who opened during the stop saw the campaign as it is.",
    ship: rows,
    shipUnavailable:
      etag === undefined
        ? `Shipping needs campaign ${campaign} as stored, which could not be read now: reload to try again.`
        : null,
  };
}
