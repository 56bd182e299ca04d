/**
 * POST /v1/events (Bearer EVENTS_API_KEYS) — the shop's backend posts a JSON batch of recent events: times within
 * EVENT_MAX_AGE_DAYS in the past and 5 minutes in the future. Reading, validation, queueing and the answers:
 * worker/events/event-batch.ts, shared with the history import (POST /v1/admin/events, admin-events.ts).
 */
import type { Hono } from "hono";
import { type AppEnv, getConfig } from "../env";
import { eventBatchHandler } from "../events/event-batch";
import { requireApiKey } from "../lib/api-key";

export function registerEvents(app: Hono<AppEnv>): void {
  app.post(
    "/v1/events",
    requireApiKey((c) => c.eventsApiKeys, "events"),
    eventBatchHandler((c) => getConfig(c.env).eventMaxAgeDays),
  );
}
