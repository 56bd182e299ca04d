/** GET /v1/preview/users : user ids with a profile or model features (up to 50). Behind `previewAccess`. */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { listUsers } from "../preview/list-users";

export function registerPreviewUsers(app: Hono<AppEnv>): void {
  app.get("/v1/preview/users", async (c) =>
    c.json({ users: await listUsers(c.env.OPENTIME_KV) }, 200, { "Cache-Control": "no-store" }),
  );
}
