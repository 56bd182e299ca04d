/**
 * GET /dashboard?experiment=<id> — the staff dashboard (behind `dashboardAccess`: the admin key or a Cloudflare
 * Access identity; open on a loopback host under DEMO_ROUTES): the experiments, one experiment's report
 * (always-valid intervals, as it is looked at every day) with SVG charts, and model health (the active model and
 * its history, drift by day). Server-rendered (mustache), no script; its numbers are the reporting API's. Never
 * framed by another site (lib/no-framing.ts: its model buttons could be clickjacked).
 */
import type { Hono } from "hono";
import Mustache from "mustache";
import { z } from "zod";
import { GLOBAL_HOLDOUT_ID } from "../../core/experiments/experiment";
import { kvKeys } from "../../core/kv-keys";
import { ActivePointerSchema, ModelHistorySchema } from "../../core/manifest";
import { storedVersions } from "../../core/model-versions";
import TEMPLATE from "../dashboard/dashboard.html";
import { dashboardView } from "../dashboard/dashboard-view";
import { recentDriftRuns } from "../drift/drift-store";
import { type AppEnv, getConfig } from "../env";
import { banditHistory } from "../experiments/bandit-store";
import { experimentIdPage } from "../experiments/experiment-ids";
import { experimentReport } from "../experiments/experiment-report";
import { MAX_LISTED_EXPERIMENTS, readGlobalHoldout, reportedExperiment } from "../experiments/experiment-store";
import { experimentRegistry } from "../experiments/registry-stub";
import { noFraming } from "../lib/no-framing";
import { bindingKvClient } from "../model/binding-kv-client";
import { dashboardAccess } from "../preview/access";

const Query = z.object({ experiment: z.string().max(64).optional(), model: z.string().max(400).optional() });

export function registerDashboard(app: Hono<AppEnv>): void {
  app.get("/dashboard", noFraming, dashboardAccess, async (c) => {
    const kv = c.env.OPENTIME_KV;
    const db = c.env.DB;
    const query = Query.catch({}).parse(c.req.query());
    // the picker lists the first 1,000 ids; `?experiment=<id>` opens any stored one
    const [listed, holdout, pointer, history, versions] = await Promise.all([
      experimentIdPage(kv, c.env.EXPERIMENT_REGISTRY ? experimentRegistry(c.env) : null, MAX_LISTED_EXPERIMENTS).then(
        (page) => page.ids,
      ),
      readGlobalHoldout(kv),
      kv.get(kvKeys.activeModel, "json").then((v) => ActivePointerSchema.safeParse(v)),
      kv.get(kvKeys.modelHistory, "json").then((v) => ModelHistorySchema.safeParse(v)),
      storedVersions(bindingKvClient(kv)).then((v) => v.sort().reverse()),
    ]);
    // the global holdout is listed once it was set (turned off, its report reads as it ended)
    let ids = holdout ? [...listed, GLOBAL_HOLDOUT_ID] : listed;
    const asked = query.experiment ? await reportedExperiment(kv, query.experiment) : null;
    if (asked && !ids.includes(asked.id)) ids = [...ids, asked.id];
    const current = asked ? asked.id : (ids[0] ?? null);
    const experiment = asked ?? (current ? await reportedExperiment(kv, current) : null);
    const [report, bandit, drift] = db
      ? await Promise.all([
          experiment
            ? experimentReport(db, experiment, { intervals: "sequential", shopCurrency: getConfig(c.env).shopCurrency })
            : null,
          experiment?.bandit ? banditHistory(db, experiment.id) : [],
          recentDriftRuns(db),
        ])
      : [null, [], []];
    const view = dashboardView({
      experiments: ids,
      current,
      report,
      unavailable: db ? undefined : "No experiment store: bind a D1 database as DB (wrangler.toml).",
      bandit,
      model: pointer.success
        ? {
            active: pointer.data.version,
            activatedAt: pointer.data.activatedAt,
            history: history.success ? history.data.map((h) => h.version).reverse() : [],
          }
        : null,
      versions,
      modelMessage: query.model,
      drift,
      psiThreshold: getConfig(c.env).driftPsiAlert,
      eceThreshold: getConfig(c.env).driftEceAlert,
    });
    return c.html(Mustache.render(TEMPLATE, view), 200, { "Cache-Control": "no-store" });
  });
}
