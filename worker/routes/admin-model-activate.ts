/**
 * POST /v1/admin/models/activate (Bearer ADMIN_API_KEYS) `{"version":"als-..."}`: checks the version as the
 * Worker would before serving it (manifest, ONNX sha256, catalog: core/model-versions.ts, as `npm run models --
 * activate` does), records the active one in the history and moves the pointer. 200 `{previous, pointer,
 * warning, unchanged}`; 409 MODEL_REFUSED when the check fails (the pointer is unchanged). Opens switch within
 * MODEL_REFRESH_SECONDS. Moves run one at a time in the ModelMover Durable Object (worker/model/model-move.ts).
 */
import type { Hono } from "hono";
import { ModelActivationSchema } from "../../core/model-versions";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";
import { modelMove } from "../model/model-move";

export function registerAdminModelActivate(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/models/activate",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const { version } = await readValidBody(c, ModelActivationSchema, 1024);
      return c.json(await modelMove(c.env, { kind: "activate", version }));
    },
  );
}
