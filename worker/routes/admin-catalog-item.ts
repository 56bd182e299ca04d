/**
 * GET /v1/admin/catalog/items/<id> (Bearer ADMIN_API_KEYS) -> 200 {"id","overlay","available","version"}:
 * one item's live fields as the catalog's writer holds them (the opens see them within about two seconds where they were written).
 */
import type { Hono } from "hono";
import { IdSchema } from "../../core/events";
import { catalogWriter } from "../catalog/catalog-stub";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { invalidInput } from "../lib/zod-issues";

export function registerAdminCatalogItem(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/catalog/items/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = IdSchema.safeParse(c.req.param("id"));
      if (!id.success) throw invalidInput(id.error, "BAD_REQUEST", "item id");
      return c.json(await catalogWriter(c.env).item(id.data), 200, { "Cache-Control": "no-store" });
    },
  );
}
