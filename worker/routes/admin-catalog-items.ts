/**
 * GET /v1/admin/catalog/items?limit=100&cursor=...&available=false (Bearer ADMIN_API_KEYS) -> 200
 * {"items":[{"id","overlay","available"}],"cursor","count","version"}: the items that have live fields, in id order,
 * a page at a time (`cursor` null on the last page); `available=false` lists only those the live fields hide, `true`
 * only the others. Read from the catalog's one writer: a PATCH that was answered is in it.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { IdSchema } from "../../core/events";
import { catalogWriter } from "../catalog/catalog-stub";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { pageQuery } from "../lib/page-query";
import { invalidInput } from "../lib/zod-issues";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: IdSchema.optional(),
  available: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional(),
});

export function registerAdminCatalogItems(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/catalog/items",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const q = ListQuery.safeParse(pageQuery(c.req.query()));
      if (!q.success) throw invalidInput(q.error);
      return c.json(await catalogWriter(c.env).items(q.data), 200, { "Cache-Control": "no-store" });
    },
  );
}
