/**
 * PUT /v1/admin/experiments/<id> (Bearer ADMIN_API_KEYS): creates or changes an experiment on a campaign
 * (core/experiments/experiment.ts): variants that are campaign configurations or `popular`, weights, coverage,
 * holdout, attribution window, `status` (`running`, `stopped`). 200 `{id, created, published, experiment,
 * recorded, campaignSegmentsMissing}` with its `ETag` (`recorded`: what the PUT changed that its report marks,
 * with its time: a start or stop, a new phase when the arms' shares or what an arm shows changed,
 * core/experiments/experiment-change.ts; its variants' conditions naming a segment the model each variant's opens
 * read lacks, worker/campaigns/campaign-segments.ts: saved all the same); 400 naming each bad field; with
 * `If-Match` (the `ETag` a GET or a PUT gave; `*`: any stored one) or `If-None-Match: *` (none stored), 412
 * EXPERIMENT_CHANGED when another write landed since; 409 EXPERIMENT_CONFLICT when another experiment runs on the
 * campaign, or when the campaign or the seed of a stored experiment would change (that would move readers already
 * exposed: start a new one); 503 EXPERIMENTS_UNAVAILABLE without the registry, KV_UNAVAILABLE when KV cannot be
 * read to adopt what an earlier version stored. The registry (worker/state/experiment-registry.ts) decides,
 * strongly consistent, and publishes to KV (worker/experiments/experiment-write.ts, as for the dashboard's
 * buttons); opens follow within a minute.
 */
import type { Hono } from "hono";
import { experimentSegmentsMissing } from "../campaigns/campaign-segments";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { experimentEtag } from "../experiments/experiment-etag";
import { experimentIdParam, readExperimentBody } from "../experiments/experiment-input";
import { putExperiment } from "../experiments/experiment-write";
import { requireApiKey } from "../lib/api-key";
import { preconditionOf } from "../lib/entity-tag";

export function registerAdminExperimentPut(app: Hono<AppEnv>): void {
  app.put(
    "/v1/admin/experiments/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = experimentIdParam(c);
      const ifMatch = preconditionOf(c.req.header("If-Match"), c.req.header("If-None-Match"));
      const experiment = await readExperimentBody(c, id);
      const answer = await putExperiment(c.env, experiment, ifMatch);
      if (!answer.ok) throw new ApiError(answer.code, answer.message);
      const missing = await experimentSegmentsMissing(c.env.OPENTIME_KV, answer.experiment);
      return c.json(
        {
          id,
          created: answer.created,
          published: answer.published,
          experiment: answer.experiment,
          recorded: answer.recorded,
          campaignSegmentsMissing: missing,
        },
        200,
        { ETag: await experimentEtag(answer.experiment) },
      );
    },
  );
}
