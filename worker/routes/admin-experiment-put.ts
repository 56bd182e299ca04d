/**
 * PUT /v1/admin/experiments/<id> (Bearer ADMIN_API_KEYS): creates or changes an experiment on a campaign
 * (core/experiments/experiment.ts): variants that are campaign configurations or `popular`, weights, coverage,
 * holdout, attribution window, `status` (`running`, `stopped`). 200 `{id, created, experiment}`; 400 naming
 * each bad field; 409 EXPERIMENT_CONFLICT when another experiment runs on the campaign, or when the campaign or
 * the seed of a stored experiment would change (that would move readers already exposed: start a new one).
 * Opens follow within a minute (worker/experiments/experiment-store.ts).
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { experimentIdParam, readExperimentBody } from "../experiments/experiment-input";
import { putExperiment, readCampaignExperiment, readExperiment } from "../experiments/experiment-store";
import { requireApiKey } from "../lib/api-key";

export function registerAdminExperimentPut(app: Hono<AppEnv>): void {
  app.put(
    "/v1/admin/experiments/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = experimentIdParam(c);
      const experiment = await readExperimentBody(c, id);
      const kv = c.env.OPENTIME_KV;
      const stored = await readExperiment(kv, id);
      if (stored && stored.campaign !== experiment.campaign)
        throw new ApiError(
          "EXPERIMENT_CONFLICT",
          `campaign: the experiment runs on "${stored.campaign}"; start a new one`,
        );
      if (stored && (stored.seed ?? stored.id) !== (experiment.seed ?? experiment.id))
        throw new ApiError(
          "EXPERIMENT_CONFLICT",
          "seed: a new seed would move readers not yet exposed; start a new one",
        );
      if (experiment.status === "running") {
        const running = await readCampaignExperiment(kv, experiment.campaign);
        if (running && running.id !== id)
          throw new ApiError("EXPERIMENT_CONFLICT", `campaign: experiment "${running.id}" runs on it; stop it first`);
      }
      await putExperiment(kv, experiment, stored?.status === "running");
      return c.json({ id, created: stored === null, experiment });
    },
  );
}
