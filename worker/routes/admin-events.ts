/**
 * POST /v1/admin/events (Bearer ADMIN_API_KEYS) — the history import (`npm run import`): a batch of events of any
 * past time (up to 100 years), validated, queued and deduplicated as POST /v1/events's (worker/routes/events.ts;
 * both through worker/events/event-batch.ts).
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { eventBatchHandler } from "../events/event-batch";
import { requireApiKey } from "../lib/api-key";

/** How old an imported event may be: any shop's history. */
const IMPORT_MAX_AGE_DAYS = 365 * 100;

export function registerAdminEvents(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/events",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    eventBatchHandler(() => IMPORT_MAX_AGE_DAYS),
  );
}
