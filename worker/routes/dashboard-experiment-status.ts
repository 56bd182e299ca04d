/**
 * POST /dashboard/experiments/<id>/<start|stop> — an experiment's Start and Stop buttons on its dashboard page,
 * behind the dashboard's gate and only from the dashboard's own pages (the Origin must be this Worker's: another
 * site cannot submit it with a staff member's Access session), with no body. The change is the registry's own
 * (worker/experiments/experiment-write.ts editExperiment: its row, its status alone, so an admin PUT made since
 * the page was drawn is never undone), recorded in the experiment's `changes`. Answers with a redirect back to the
 * experiment's page carrying what happened as a code (worker/dashboard/experiment-message.ts: the page writes the
 * text); a start refused (another experiment runs on the campaign, or this one would measure nothing) is said so
 * there; so is a press Workers KV failed (`not-started`, `not-stopped`: the registry reads KV, to adopt what it holds
 * of experiments from before the registry, before its transaction, so a failed read leaves everything as it was:
 * press again); an id no experiment has is 404 NOT_FOUND.
 */
import type { Hono } from "hono";
import { cutWhole } from "../../core/cut-text";
import { ExperimentIdSchema } from "../../core/experiments/experiment";
import { experimentRedirect } from "../dashboard/experiment-message";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { editExperiment } from "../experiments/experiment-write";
import { logEvent } from "../lib/log";
import { dashboardAccess, dashboardFormOnly } from "../preview/access";

export function registerDashboardExperimentStatus(app: Hono<AppEnv>): void {
  // two literal routes: a pattern `:action{start|stop}` beside the static `/ship` route is compiled by Hono's fallback
  // router as `^start|stop$`, which also matched `/startle` and `/bus-stop`
  for (const action of ["start", "stop"] as const) registerPress(app, action);
}

function registerPress(app: Hono<AppEnv>, action: "start" | "stop"): void {
  app.post(`/dashboard/experiments/:id/${action}`, dashboardAccess, dashboardFormOnly, async (c) => {
    const id = ExperimentIdSchema.safeParse(c.req.param("id"));
    if (!id.success) throw new ApiError("BAD_REQUEST", "id: not an experiment id");
    const start = action === "start";
    const answer = await editExperiment(c.env, id.data, { status: start ? "running" : "stopped" });
    if (answer.ok) return c.redirect(experimentRedirect(id.data, start ? "started" : "stopped"), 303);
    // a start another experiment or the experiment itself forbids: the page says which, from its own reads
    if (start && answer.code === "EXPERIMENT_CONFLICT")
      return c.redirect(experimentRedirect(id.data, "start-refused"), 303);
    // KV could not be read before the registry's transaction: nothing was written, the page asks to press again
    if (answer.code === "KV_UNAVAILABLE") {
      logEvent("warn", "dashboard.experiment_unchanged", {
        experiment: id.data,
        detail: cutWhole(answer.message, 300),
      });
      return c.redirect(experimentRedirect(id.data, start ? "not-started" : "not-stopped"), 303);
    }
    throw new ApiError(answer.code, answer.message);
  });
}
