/**
 * POST /dashboard/experiments/<id>/ship — "Ship this arm" on an experiment's dashboard page (a form: `arm`, and
 * what the page showed: `arm-tag`, the tag of that arm's campaign, and `campaign-etag`, the experiment's campaign's
 * ETag, empty when none was stored), behind the dashboard's gate and only from the dashboard's own pages (the
 * Origin must be this Worker's). The arm's campaign configuration becomes the experiment's campaign itself, written
 * by the campaigns' one writer with the page's ETag as `If-Match` (worker/campaigns/campaign-edits.ts: an edit made
 * since the page was drawn is refused, never overwritten), then the experiment is stopped by the registry, which
 * records `shipped` and `stopped` in its changes (worker/experiments/experiment-write.ts): every reader of the
 * campaign, whatever their arm, then gets what the arm showed. A stop that fails after the campaign was written is
 * said so on the page (press Stop), never answered as an error that would hide the write. A campaign write Workers
 * KV failed for a passing reason is said so too: `not-shipped` when KV could not be read (nothing written: ship
 * again; so is an experiment not adopted by the registry yet that KV could not read), `ship-unconfirmed` when the write was sent and neither KV nor the campaigns' writer confirmed it (it may
 * have landed; the experiment was not stopped). Only a variant showing a campaign ships: `popular`
 * and the holdout serve the popular items with nothing of the reader, which no campaign holds (400 BAD_REQUEST).
 * Answers with a redirect back to the experiment's page carrying what happened as a code
 * (worker/dashboard/experiment-message.ts); an id no experiment has is 404 NOT_FOUND.
 */
import type { Hono } from "hono";
import { cutWhole } from "../../core/cut-text";
import { ExperimentIdSchema } from "../../core/experiments/experiment";
import { CampaignNotSaved, saveCampaign } from "../campaigns/campaign-edits";
import { armTag } from "../dashboard/experiment-controls";
import { experimentRedirect } from "../dashboard/experiment-message";
import type { AppEnv } from "../env";
import { ApiError, passingFailure, unavailableObject } from "../errors";
import { editExperiment } from "../experiments/experiment-write";
import { experimentRegistry } from "../experiments/registry-stub";
import { parseIfMatch } from "../lib/entity-tag";
import { errorMessage, logEvent } from "../lib/log";
import { readForm } from "../lib/read-form";
import { dashboardAccess, dashboardFormOnly } from "../preview/access";

/** The form is an arm's id and two tags: anything larger is not it. */
const MAX_FORM_BYTES = 4096;

export function registerDashboardExperimentShip(app: Hono<AppEnv>): void {
  app.post("/dashboard/experiments/:id/ship", dashboardAccess, dashboardFormOnly, async (c) => {
    const id = ExperimentIdSchema.safeParse(c.req.param("id"));
    if (!id.success) throw new ApiError("BAD_REQUEST", "id: not an experiment id");
    const form = await readForm(c, MAX_FORM_BYTES);
    const field = (name: string) => {
      const value = form.get(name);
      return typeof value === "string" ? value : null;
    };
    const arm = field("arm");
    const seen = field("arm-tag");
    const etag = field("campaign-etag");
    if (arm === null || seen === null || etag === null)
      throw new ApiError("BAD_REQUEST", "the form is arm, arm-tag and campaign-etag, from the dashboard's page");
    const ifMatch = etag === "" ? "absent" : parseIfMatch(etag);
    if (ifMatch === "invalid") throw new ApiError("BAD_REQUEST", "campaign-etag: not an entity tag");
    // read strictly: KV failing is not "no experiment" (nothing written: the page says to ship again)
    const found = await experimentRegistry(c.env).find(id.data);
    if (!found.ok) {
      logEvent("warn", "dashboard.arm_not_shipped", {
        experiment: id.data,
        sent: false,
        detail: cutWhole(found.message, 300),
      });
      return c.redirect(experimentRedirect(id.data, "not-shipped", arm), 303);
    }
    const experiment = found.experiment;
    if (!experiment) throw new ApiError("NOT_FOUND", `no experiment "${id.data}"`);
    const variant = experiment.variants.find((v) => v.id === arm);
    if (!variant || variant.content === "popular")
      throw new ApiError(
        "BAD_REQUEST",
        "arm: not a variant of the experiment showing a campaign (popular items and the holdout cannot be shipped)",
      );
    // what the arm shows changed since the page was drawn: the marketer chose what they saw, not this
    if ((await armTag(variant.content)) !== seen)
      return c.redirect(experimentRedirect(id.data, "ship-arm-changed", variant.id), 303);
    try {
      await saveCampaign(c.env, experiment.campaign, variant.content, "replace", ifMatch);
    } catch (e) {
      if (e instanceof ApiError && e.code === "CAMPAIGN_CHANGED")
        return c.redirect(experimentRedirect(id.data, "ship-campaign-changed", variant.id), 303);
      // KV failed, or the writer was lost during the call (which may have written), or was overloaded (the runtime
      // refused the call: it never ran): the page says which it was
      const unsent = e instanceof CampaignNotSaved ? !e.sent : unavailableObject(e)?.overloaded === true;
      if (!(e instanceof CampaignNotSaved) && passingFailure(e)?.code !== "STATE_UNAVAILABLE") throw e;
      logEvent("warn", "dashboard.arm_not_shipped", {
        experiment: id.data,
        arm: variant.id,
        campaign: experiment.campaign,
        sent: !unsent,
        detail: cutWhole(errorMessage(e), 300),
      });
      return c.redirect(experimentRedirect(id.data, unsent ? "not-shipped" : "ship-unconfirmed", variant.id), 303);
    }
    // the campaign is written: whatever stopping does, the page says what is true (never an error page that hides
    // the write); a stop refused or failed is logged, and the page asks for Stop
    let detail: string | null = null;
    try {
      const stopped = await editExperiment(c.env, id.data, { ship: variant.id });
      if (!stopped.ok) detail = stopped.message;
    } catch (e) {
      detail = errorMessage(e);
    }
    logEvent(detail === null ? "info" : "error", "dashboard.arm_shipped", {
      experiment: id.data,
      arm: variant.id,
      campaign: experiment.campaign,
      ...(detail !== null && { stopped: false, detail: cutWhole(detail, 300) }),
    });
    return c.redirect(
      experimentRedirect(id.data, detail === null ? "shipped" : "shipped-not-stopped", variant.id),
      303,
    );
  });
}
