/**
 * GET /v1/admin/campaigns?limit=100&cursor=... (Bearer ADMIN_API_KEYS): the stored campaign ids in key order,
 * `{ids, cursor}` (`cursor` null on the last page). KV's list is eventually consistent: a campaign created in
 * the last minute may be missing from it.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { listCampaigns } from "../decisions/campaign-store";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { pageQuery } from "../lib/page-query";
import { invalidInput } from "../lib/zod-issues";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(1024).optional(),
});

export function registerAdminCampaignList(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/campaigns",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const q = ListQuery.safeParse(pageQuery(c.req.query()));
      if (!q.success) throw invalidInput(q.error);
      return c.json(await listCampaigns(c.env.OPENTIME_KV, q.data.limit, q.data.cursor));
    },
  );
}
