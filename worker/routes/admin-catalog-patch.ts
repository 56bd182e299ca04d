/**
 * PATCH /v1/admin/catalog (Bearer ADMIN_API_KEYS)
 *   {"items":[{"id":"p000417","stock":0},{"id":"p000009","price":12.5,"title":"..."}]}
 *   -> 200 {"version":7,"changed":2,"published":true,"stale":[]}
 * Sets live fields of items (core/live-catalog.ts: stock, price, active, title, image, url, category, currency,
 * tags; null clears one); the next open sees them within about two seconds where they were written (elsewhere, KV's propagation), without a new model. Merged by the
 * catalog's one writer, so concurrent PATCHes of one item lose no field. A body over MAX_BODY is 413
 * PAYLOAD_TOO_LARGE saying to split it (fewer than 1,000 items can pass it: long links and texts). An item's `at`
 * (when the shop made the change) keeps it from overwriting a field changed later (core/catalog-order.ts): those
 * fields are answered in `stale`; an `at` ahead of this clock by more than MAX_AT_AHEAD_MS is a 400.
 */
import type { Hono } from "hono";
import { catalogPatchSchemaAt } from "../../core/catalog-order";
import { MAX_PATCH_ITEMS } from "../../core/live-catalog";
import { catalogWriter } from "../catalog/catalog-stub";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";

/** About 1 KB per item at most. */
const MAX_BODY = MAX_PATCH_ITEMS * 1024;

export function registerAdminCatalogPatch(app: Hono<AppEnv>): void {
  app.patch(
    "/v1/admin/catalog",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const parsed = await readValidBody(c, catalogPatchSchemaAt(Date.now()), MAX_BODY).catch((e: unknown) => {
        // 1,000 items of long links and texts pass it: say what to do, not only that it is too large
        if (e instanceof ApiError && e.code === "PAYLOAD_TOO_LARGE")
          throw new ApiError(
            "PAYLOAD_TOO_LARGE",
            `a PATCH body holds at most ${MAX_BODY} bytes (${MAX_PATCH_ITEMS} items of about 1 KB): send its items in smaller PATCHes`,
          );
        throw e;
      });
      const answer = await catalogWriter(c.env).patch(parsed.items);
      if (!answer.ok && answer.bound === "items") {
        throw new ApiError(
          "BAD_REQUEST",
          `the live catalog holds live fields for at most ${answer.limit} items (${answer.held} now): clear some (null) or publish a new model's catalog`,
        );
      }
      if (!answer.ok) {
        throw new ApiError(
          "BAD_REQUEST",
          `the live catalog holds at most ${answer.limit} bytes of live fields (${answer.held} now), and this PATCH would take it past that: clear some (null), send shorter texts and links, or publish a new model's catalog`,
        );
      }
      const { ok: _, ...result } = answer;
      return c.json(result);
    },
  );
}
