/** GET /openapi.json — the OpenAPI 3.1 description of the API (worker/openapi/document.ts). Public: it holds no secret. */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { openApiDocument } from "../openapi/document";

export function registerOpenApi(app: Hono<AppEnv>): void {
  app.get("/openapi.json", (c) => c.json(openApiDocument(), 200, { "Cache-Control": "public, max-age=300" }));
}
