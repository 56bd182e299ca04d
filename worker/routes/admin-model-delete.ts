/**
 * DELETE /v1/admin/models/<version> (Bearer ADMIN_API_KEYS): deletes a version's `model:<version>:*` keys when
 * nothing can serve it (core/model-deletion.ts: not active, not in the history, named by no stored campaign or
 * running experiment, the pointer not moved in the last 5 minutes), in the ModelMover between moves
 * (worker/model/model-deletion.ts). 200 `{version, deleted}`; 400 BAD_REQUEST for a name no version has; 409
 * MODEL_REFUSED saying why it is kept (nothing deleted).
 */
import type { Hono } from "hono";
import { ModelVersionSchema } from "../../core/manifest";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { modelDeletion } from "../model/model-deletion";

export function registerAdminModelDelete(app: Hono<AppEnv>): void {
  app.delete(
    "/v1/admin/models/:version",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const version = ModelVersionSchema.safeParse(c.req.param("version"));
      if (!version.success) throw new ApiError("BAD_REQUEST", "a model version is 1-64 of A-Z a-z 0-9 . _ -");
      return c.json(await modelDeletion(c.env, version.data));
    },
  );
}
