/**
 * GET /v1/admin/experiments/<id> (Bearer ADMIN_API_KEYS): `{id, experiment}` as the registry holds it (what the
 * last PUT stored, wherever it was sent), with the `ETag` a PUT's `If-Match` names; 404 when there is none.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { experimentEtag } from "../experiments/experiment-etag";
import { experimentIdParam } from "../experiments/experiment-input";
import { experimentRegistry } from "../experiments/registry-stub";
import { requireApiKey } from "../lib/api-key";

export function registerAdminExperimentGet(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/experiments/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = experimentIdParam(c);
      const experiment = await experimentRegistry(c.env).get(id);
      if (!experiment) throw new ApiError("NOT_FOUND", `no experiment "${id}"`);
      return c.json({ id, experiment }, 200, {
        "Cache-Control": "no-store",
        ETag: await experimentEtag(experiment),
      });
    },
  );
}
