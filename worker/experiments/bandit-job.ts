/**
 * The bandit's hourly update (Cron Trigger `0 * * * *`): for each running experiment in bandit mode, each
 * variant's new share of readers is its posterior probability of having the best goal rate (clickers, or
 * buyers, per exposed reader, weighted hour by hour: core/stats/periods.ts; Beta(1 + successes, 1 +
 * failures), core/stats/thompson.ts), never under the floor. The shares become the variants' weights in the job's own key (`experiment-weights:<id>`, laid over the
 * experiment's when opens read it: the admin API's edits are never overwritten, and a stopped experiment stays
 * stopped) and are recorded for the dashboard. Readers already exposed keep their variant (sticky); the
 * holdout's share never moves. The running experiments come from the registry (strongly consistent, one
 * running per campaign), never a KV listing, which stopped experiments (never deleted) would fill: one from
 * before the registry is updated once a PUT has adopted it.
 * An update every hour keeps the allocation stable within an hour at every edge (opens cache an experiment a
 * minute) while it follows a campaign's first day closely.
 */
import { byPeriod } from "../../core/experiments/report";
import { periodBanditArms } from "../../core/stats/periods";
import { banditShares } from "../../core/stats/thompson";
import type { Bindings } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import { saveBanditShares } from "./bandit-store";
import { putBanditWeights } from "./experiment-store";
import { experimentRegistry } from "./registry-stub";
import { periodCounts, reportUnit } from "./report-queries";

/** Weights are stored on this scale (any positive scale works: core/experiments/experiment.ts). */
const WEIGHT_SCALE = 100;
const MIN_WEIGHT = 1e-6;

export async function updateBandits(env: Bindings, now = Date.now()): Promise<string[]> {
  const db = env.DB;
  if (!db || !env.EXPERIMENT_REGISTRY) return [];
  const updated: string[] = [];
  for (const experiment of await experimentRegistry(env).running()) {
    const id = experiment.id;
    try {
      if (experiment.status !== "running" || !experiment.bandit) continue;
      // hour by hour: pooled counts would compare arms under different shares (Simpson's paradox), and an arm
      // just given more readers has more whose window has barely begun
      // the readers its report counts (sent, for subject lines), so the bandit follows what the report says
      const unit = await reportUnit(db, experiment);
      const tables = byPeriod(
        // the update reads clickers and buyers only, whatever the revenue's currency
        await periodCounts(db, id, unit, { report: null, shop: null }),
        experiment.variants.map((v) => v.id),
      );
      const table = experiment.bandit.goal === "click" ? tables.clickers : tables.buyers;
      const arms = periodBanditArms(table);
      // a variant added since the last hour that counts has no result of its own yet: it keeps the share the PUT
      // gave it (the others' mean) and the others theirs, until an hour counts for it
      if (!arms) continue;
      const shares = banditShares(arms, experiment.bandit.floor);
      const at = new Date(now).toISOString();
      await putBanditWeights(env.OPENTIME_KV, id, {
        at,
        weights: Object.fromEntries(
          experiment.variants.map((v, i) => [v.id, Math.max(MIN_WEIGHT, (shares[i] as number) * WEIGHT_SCALE)]),
        ),
      });
      await saveBanditShares(db, id, {
        at,
        shares: Object.fromEntries(experiment.variants.map((v, i) => [v.id, shares[i] as number])),
      });
      updated.push(id);
    } catch (e) {
      logEvent("error", "bandit.update_failed", { experiment: id, detail: errorMessage(e) });
    }
  }
  return updated;
}
