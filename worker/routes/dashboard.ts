/**
 * GET /dashboard?experiment=<id>&phase=all|current — the staff dashboard (behind `dashboardAccess`: the admin key
 * or a Cloudflare Access identity; open on a loopback host under DEMO_ROUTES): the experiments, one experiment's
 * report (always-valid intervals, as it is looked at every day) with SVG charts and its buttons (Stop or Start,
 * Ship this arm: dashboard/experiment-controls.ts; the experiment read from the registry, so a button's change
 * shows at once; without D1 there is no report, and the buttons show with the experiment's id and status), and model
 * health (the active model and its history, drift by day: dashboard/model-health.ts; a passing KV failure of its
 * reads is said in its place, the rest of the page shown). Without the KV binding the page shows what the registry
 * and D1 hold, says what it cannot read, and shows no buttons. An id no experiment has answers 404 with the page
 * saying so (and the experiments there are), not another experiment's report; a `phase` other than `all` or
 * `current` answers 400 BAD_REQUEST.
 * Server-rendered (mustache), no script; its numbers are the reporting API's. Never framed by another site
 * (lib/no-framing.ts: its model buttons could be clickjacked).
 */
import type { Hono } from "hono";
import Mustache from "mustache";
import { z } from "zod";
import { cutWhole } from "../../core/cut-text";
import { ExperimentIdSchema, GLOBAL_HOLDOUT_ID } from "../../core/experiments/experiment";
import { isLoopbackHost } from "../../core/web-url";
import TEMPLATE from "../dashboard/dashboard.html";
import { dashboardView } from "../dashboard/dashboard-view";
import { experimentControls } from "../dashboard/experiment-controls";
import { ExperimentMessageQuery, experimentMessage } from "../dashboard/experiment-message";
import { modelHealth } from "../dashboard/model-health";
import { ModelMessageQuery } from "../dashboard/model-message";
import { recentDriftRuns } from "../drift/drift-store";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { banditHistory } from "../experiments/bandit-store";
import { experimentIdPage } from "../experiments/experiment-ids";
import { experimentReport, reportDecisionTtlDays } from "../experiments/experiment-report";
import { MAX_LISTED_EXPERIMENTS, readGlobalHoldout, reportedExperiment } from "../experiments/experiment-store";
import { experimentRegistry } from "../experiments/registry-stub";
import { ReportPhaseSchema } from "../experiments/report-phase";
import { noFraming } from "../lib/no-framing";
import { staffPagePolicy } from "../lib/staff-page-policy";
import { invalidInput } from "../lib/zod-issues";
import { dashboardAccess } from "../preview/access";
import { DRIFT_CRON } from "../scheduled-crons";

const Query = z.object({ experiment: z.string().optional() });

/** How much of an id no experiment has the page repeats (a real id is at most 64 characters). */
const SHOWN_ID_CHARS = 64;

/** What the page says first on a deploy without the KV binding: what it shows, and what it cannot. */
const NO_KV_PAGE =
  "No KV namespace is bound as OPENTIME_KV (kv_namespaces in wrangler.toml; GET /v1/health lists it as kv_binding_missing): emails serve their fallbacks until it is. This page shows what the experiments' registry and D1 hold, without model health or the experiments' buttons (what they change reaches opens through KV).";

/** Why an experiment only KV holds (the global holdout's, any without the registry) cannot be shown without it. */
const NO_KV_BINDING =
  "this experiment is read from Workers KV, and the OPENTIME_KV binding is not configured (wrangler.toml)";

/** An id that can name something to report: an experiment's, or the global holdout's (no KV read for others). */
function reportableId(id: string): boolean {
  return id === GLOBAL_HOLDOUT_ID || ExperimentIdSchema.safeParse(id).success;
}

export function registerDashboard(app: Hono<AppEnv>): void {
  app.get("/dashboard", noFraming, dashboardAccess, async (c) => {
    // a deploy without its KV namespace (env.ts, config.kv_binding_missing): the page shows what the registry and D1
    // hold, and says what it cannot read, as it does without D1; it never starts a read of a namespace not there
    const kv: KVNamespace | undefined = c.env.OPENTIME_KV;
    const db = c.env.DB;
    const query = Query.catch({}).parse(c.req.query());
    // what a model button did: a code, whose text the page writes (never text from the URL)
    const moved = ModelMessageQuery.parse(c.req.query());
    // what an experiment's button did: a code too (dashboard/experiment-message.ts)
    const changed = ExperimentMessageQuery.parse(c.req.query());
    const url = new URL(c.req.url);
    // `current`: the report of the readers drawn in the experiment's current phase alone; anything else is said so
    // (400), never shown as all readers
    const phase = ReportPhaseSchema.default("all").safeParse(c.req.query("phase"));
    if (!phase.success) throw invalidInput(phase.error, "BAD_REQUEST", "phase");
    const registry = c.env.EXPERIMENT_REGISTRY ? experimentRegistry(c.env) : null;
    // the picker lists the first 1,000 ids; `?experiment=<id>` opens any stored one. Each read is an async call, so
    // none throws before the others are started and awaited with it (one that did left them rejecting unawaited)
    const [listed, holdout, health] = await Promise.all([
      experimentIdPage(kv, registry, MAX_LISTED_EXPERIMENTS).then((page) => page.ids),
      kv ? readGlobalHoldout(kv) : null,
      modelHealth(kv, moved),
    ]);
    // the global holdout is listed once it was set (turned off, its report reads as it ended)
    let ids = holdout ? [...listed, GLOBAL_HOLDOUT_ID] : listed;
    // an id asked for that no experiment has is said so (404), never answered with another experiment's report
    const askedId = query.experiment || undefined;
    // an experiment as its one writer holds it (a button's change shows at once, whatever KV's copy says yet)
    const read = async (id: string) => {
      if (id !== GLOBAL_HOLDOUT_ID && registry) return registry.get(id);
      // KV's alone holds it: without KV whether it exists is unknown, never a 404 (the one handler's 503)
      if (!kv) throw new ApiError("KV_UNAVAILABLE", NO_KV_BINDING);
      return reportedExperiment(kv, id);
    };
    const asked = askedId && reportableId(askedId) ? await read(askedId) : null;
    const missing = askedId !== undefined && asked === null ? askedId : null;
    if (asked && !ids.includes(asked.id)) ids = [...ids, asked.id];
    const current = asked ? asked.id : missing === null ? (ids[0] ?? null) : null;
    const experiment = asked ?? (current ? await read(current) : null);
    const [report, bandit, drift] = db
      ? await Promise.all([
          experiment
            ? (kv ? reportDecisionTtlDays(kv, experiment) : Promise.resolve(undefined)).then((decisionTtlDays) =>
                experimentReport(db, experiment, {
                  intervals: "sequential",
                  shopCurrency: getConfig(c.env).shopCurrency,
                  phase: phase.data,
                  decisionTtlDays,
                }),
              )
            : null,
          experiment?.bandit ? banditHistory(db, experiment.id) : [],
          recentDriftRuns(db),
        ])
      : [null, [], []];
    // the buttons need the registry (and the campaigns' writer), not D1: without a report they show all the same,
    // in the experiment's section, without the report's verdicts. Not without KV: what they change reaches opens
    // through KV's copy, and shipping reads the campaign there
    const controls = experiment && kv ? await experimentControls(c.env, experiment, report) : null;
    const view = dashboardView({
      experiments: ids,
      current,
      ...(missing !== null && { missing: shownId(missing) }),
      report,
      experiment: experiment && { id: experiment.id, campaign: experiment.campaign, status: experiment.status },
      controls,
      // only beside the buttons (the global holdout has none: a link naming it says nothing)
      experimentMessage: experiment && controls ? experimentMessage(changed, experiment) : null,
      unavailable: db
        ? undefined
        : `No results: experiments are counted in a D1 database, and none is bound as DB (wrangler.toml; README: Storage built to count).${controls ? " The buttons above work without it: readers are still assigned and served, only nothing is counted." : ""}`,
      bandit,
      ...("unread" in health
        ? { model: null, versions: [], modelUnread: health.unread }
        : { model: health.model, versions: health.versions, modelMessage: health.message }),
      ...(kv ? {} : { kvUnbound: NO_KV_PAGE }),
      drift,
      // the curl that runs the drift job, on this Worker's own origin when it is local (wrangler dev, any port)
      driftCommand: isLoopbackHost(url.hostname)
        ? `curl "${url.origin}/__scheduled?cron=${DRIFT_CRON.replaceAll(" ", "+")}"`
        : null,
      psiThreshold: getConfig(c.env).driftPsiAlert,
      eceThreshold: getConfig(c.env).driftEceAlert,
    });
    return c.html(Mustache.render(TEMPLATE, view), missing === null ? 200 : 404, {
      "Cache-Control": "no-store",
      // no script at all: the page is HTML, inline SVG and forms
      "Content-Security-Policy": staffPagePolicy(),
    });
  });
}

/** An id as the page repeats it: its first SHOWN_ID_CHARS UTF-16 units (never half a surrogate pair). */
function shownId(id: string): string {
  return id.length > SHOWN_ID_CHARS ? `${cutWhole(id, SHOWN_ID_CHARS)}…` : id;
}
