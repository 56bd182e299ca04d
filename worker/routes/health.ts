/** GET /v1/health — liveness plus which model version this isolate serves (or why none). */
import type { Hono } from "hono";
import { type AppEnv, getConfig } from "../env";
import { background } from "../lib/background";
import { getModel } from "../model/model-store";

export interface HealthResponse {
  ok: true;
  model: { version: string; items: number; dims: number } | null;
  reason: string | null;
}

export function registerHealth(app: Hono<AppEnv>): void {
  app.get("/v1/health", async (c) => {
    const state = await getModel(
      c.env.OPENTIME_KV,
      getConfig(c.env).modelRefreshSeconds,
      Date.now(),
      background(c).waitUntil,
    );
    const body: HealthResponse = state.ok
      ? {
          ok: true,
          model: {
            version: state.model.manifest.version,
            items: state.model.manifest.itemCount,
            dims: state.model.manifest.dims,
          },
          reason: null,
        }
      : { ok: true, model: null, reason: state.reason };
    return c.json(body, 200, { "Cache-Control": "no-store" });
  });
}
