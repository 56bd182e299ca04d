/**
 * GET /v1/admin/experiments?limit=1000&cursor=... (Bearer ADMIN_API_KEYS): the stored experiments in id order,
 * `{ids, cursor}` (`cursor` null on the last page): the registry's, with any KV holds from before the registry
 * existed.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../env";
import { experimentIdPage } from "../experiments/experiment-ids";
import { MAX_LISTED_EXPERIMENTS } from "../experiments/experiment-store";
import { experimentRegistry } from "../experiments/registry-stub";
import { requireApiKey } from "../lib/api-key";
import { pageQuery } from "../lib/page-query";
import { invalidInput } from "../lib/zod-issues";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_LISTED_EXPERIMENTS).default(MAX_LISTED_EXPERIMENTS),
  cursor: z.string().min(1).max(64).optional(),
});

export function registerAdminExperimentList(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/experiments",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const q = ListQuery.safeParse(pageQuery(c.req.query()));
      if (!q.success) throw invalidInput(q.error);
      const registry = experimentRegistry(c.env);
      return c.json(await experimentIdPage(c.env.OPENTIME_KV, registry, q.data.limit, q.data.cursor));
    },
  );
}
