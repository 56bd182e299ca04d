/**
 * GET /v1/admin/models?limit=20&cursor=... (Bearer ADMIN_API_KEYS): a page of the model versions stored, newest
 * first, each with the Worker's own check of it (manifest, ONNX sha256, catalog), the active pointer and the history
 * a rollback returns along (core/model-versions.ts Listing; `npm run models -- list --url` reads every page).
 * 200 `{active, history, versions, cursor}` (`cursor` null on the last page); 400 for a limit out of 1-50 or a
 * cursor no listing gave.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { DEFAULT_LISTED_VERSIONS, decodeListingCursor, MAX_LISTED_VERSIONS } from "../../core/model-versions";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { pageQuery } from "../lib/page-query";
import { invalidInput } from "../lib/zod-issues";
import { modelListing } from "../model/model-listing";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_LISTED_VERSIONS).default(DEFAULT_LISTED_VERSIONS),
  cursor: z
    .string()
    .min(1)
    .max(1024)
    .refine((c) => decodeListingCursor(c) !== null, { message: "not a cursor a listing gave" })
    .optional(),
});

export function registerAdminModelsList(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/models",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      c.header("Cache-Control", "no-store");
      const q = ListQuery.safeParse(pageQuery(c.req.query()));
      if (!q.success) throw invalidInput(q.error);
      return c.json(await modelListing(c.env, q.data));
    },
  );
}
