/**
 * Worker entry point: HTTP (the Hono app), the events queue consumer and the Cron Triggers (bandits hourly,
 * drift daily), each given KV with deadlines
 * (lib/kv-deadline.ts) so a hung KV operation fails into the callers' fallbacks instead of hanging.
 */
import { createApp } from "./app";
import { runDrift } from "./drift/drift-job";
import type { Bindings } from "./env";
import { consumeEvents } from "./events/consumer";
import { consumeDeadLetters, DEAD_LETTER_QUEUE } from "./events/dead-letters";
import type { EventsMessage } from "./events/queue";
import { updateBandits } from "./experiments/bandit-job";
import { boundedEnv } from "./lib/bounded-env";
import { FETCH_KV_DEADLINES, type KvDeadlines, QUEUE_KV_DEADLINES, requestKind } from "./lib/kv-deadline";
import { logEvent } from "./lib/log";
import { BANDIT_CRON, DRIFT_CRON, SCHEDULED_CRONS } from "./scheduled-crons";

/**
 * The Durable Object classes: the writers of campaigns (CAMPAIGN_WRITER), of the live catalog (CATALOG), of
 * experiments (EXPERIMENT_REGISTRY), of model moves (MODEL_MOVER) and of reader state (READERS). Each bounds its own
 * KV in its constructor (lib/bounded-env.ts objectEnv: OBJECT_KV_DEADLINES).
 */
export { CampaignWriter } from "./state/campaign-writer";
export { CatalogWriter } from "./state/catalog-writer";
export { ExperimentRegistry } from "./state/experiment-registry";
export { ModelMover } from "./state/model-mover";
export { ReaderShard } from "./state/reader-shard";

const app = createApp();

/** One wrapped env per runtime env and handler, so per-env caches (getConfig) keep hitting. */
const wrapped = {
  email: new WeakMap<Bindings, Bindings>(),
  api: new WeakMap<Bindings, Bindings>(),
  queue: new WeakMap<Bindings, Bindings>(),
  scheduled: new WeakMap<Bindings, Bindings>(),
};
function bounded(env: Bindings, handler: keyof typeof wrapped, deadlines: KvDeadlines): Bindings {
  let out = wrapped[handler].get(env);
  if (!out) {
    // the same configuration as `env`: parsed, and its problems logged, once for every handler's copy
    out = boundedEnv(env, deadlines);
    wrapped[handler].set(env, out);
  }
  return out;
}

export default {
  fetch(req: Request, env: Bindings, ctx: ExecutionContext) {
    // the email's routes give up on KV within a second (their fallbacks answer); the API's wait longer
    const kind = requestKind(req);
    return app.fetch(req, bounded(env, kind, FETCH_KV_DEADLINES[kind]), ctx);
  },
  async queue(batch, env, _ctx) {
    const bindings = bounded(env, "queue", QUEUE_KV_DEADLINES);
    if (batch.queue === DEAD_LETTER_QUEUE) await consumeDeadLetters(batch, bindings);
    else await consumeEvents(batch, bindings);
  },
  // Cron Triggers (wrangler.toml): the bandits' hourly update, the daily drift job (worker/scheduled-crons.ts)
  async scheduled(controller, env, ctx) {
    const bindings = bounded(env, "scheduled", QUEUE_KV_DEADLINES);
    if (controller.cron === DRIFT_CRON) await runDrift(bindings, controller.scheduledTime, (p) => ctx.waitUntil(p));
    else if (controller.cron === BANDIT_CRON) await updateBandits(bindings, controller.scheduledTime);
    // a schedule edited in wrangler.toml alone would otherwise end as a run that did its work, every day
    else logEvent("error", "scheduled.unknown_cron", { cron: controller.cron, known: SCHEDULED_CRONS });
  },
} satisfies ExportedHandler<Bindings, EventsMessage>;
