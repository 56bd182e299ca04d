/**
 * The Cron Triggers' schedules, each naming the one job it runs (worker/index.ts `scheduled`): the handler knows a
 * job by its schedule's text, so wrangler.toml's `crons` lists exactly these (test/node/deploy-config.test.ts). To
 * move a job, change both. A schedule not here runs nothing and is logged as an error (`scheduled.unknown_cron`).
 */

/** The bandits' hourly update (worker/experiments/bandit-job.ts). */
export const BANDIT_CRON = "0 * * * *";
/** The daily drift job (worker/drift/drift-job.ts). */
export const DRIFT_CRON = "30 4 * * *";

export const SCHEDULED_CRONS = [BANDIT_CRON, DRIFT_CRON] as const;
