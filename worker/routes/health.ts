/**
 * GET /v1/health — liveness, which model version this isolate serves (or why none), and, to a caller with the admin
 * key only, what the deployment's configuration lacks (`config`: problem names from worker/env.ts CONFIG_PROBLEMS,
 * never a value), so a first deploy shows what to set. Anyone else gets `config: null`, never an error: which
 * secrets are missing or short is the operator's to know, as public health checks elsewhere keep details to
 * authorized callers (Spring Boot Actuator's `show-details`, Unkey's liveness: a status alone). The problems are
 * logged as `config.<name>` too (`wrangler tail`), for a deploy that has no admin key yet.
 */
import type { Hono } from "hono";
import { type AppEnv, type ConfigProblem, configProblems, getConfig } from "../env";
import { hasApiKey } from "../lib/api-key";
import { background } from "../lib/background";
import { getModel, type ModelFailure } from "../model/model-store";

export interface HealthResponse {
  ok: true;
  model: { version: string; items: number; dims: number } | null;
  /** why no model serves (null when one does) */
  reason: ModelFailure | null;
  /** null: not asked with the admin key */
  config: readonly ConfigProblem[] | null;
}

export function registerHealth(app: Hono<AppEnv>): void {
  app.get("/v1/health", async (c) => {
    const state = await getModel(
      c.env.OPENTIME_KV,
      getConfig(c.env).modelRefreshSeconds,
      Date.now(),
      background(c).waitUntil,
    );
    const config = hasApiKey(c, getConfig(c.env).adminApiKeys) ? configProblems(c.env) : null;
    const body: HealthResponse = state.ok
      ? {
          ok: true,
          model: {
            version: state.model.manifest.version,
            items: state.model.manifest.itemCount,
            dims: state.model.manifest.dims,
          },
          reason: null,
          config,
        }
      : { ok: true, model: null, reason: state.reason, config };
    return c.json(body, 200, { "Cache-Control": "no-store" });
  });
}
