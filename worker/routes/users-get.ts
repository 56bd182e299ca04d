/**
 * GET /v1/users/<id> (Bearer ADMIN_API_KEYS): right of access, everything stored about the reader: the profile
 * (by default the writer's own state; `?view=edge`: the snapshot opens read, in KV), the model's features, their
 * pending triggers, their views index and the clicks and purchases kept for late exposures (`outcomes`).
 * `?fields=profile` answers the profile alone (one read: support tools, the load test's drain). 404 when
 * nothing is stored.
 */
import type { Hono } from "hono";
import { kvKeys } from "../../core/kv-keys";
import { parseProfile } from "../../core/profile";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { listOwnKeys } from "../events/erasure";
import { requireApiKey } from "../lib/api-key";
import { userIdParam } from "../profile/user-id-param";
import { readerStub } from "../state/shard-routing";

export function registerUsersGet(app: Hono<AppEnv>): void {
  app.get(
    "/v1/users/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = userIdParam(c.req.param("id"));
      const kv = c.env.OPENTIME_KV;
      const edge = c.req.query("view") === "edge";
      const only = c.req.query("fields") === "profile";
      const shard = readerStub(c.env, id);
      const [held, triggers, views, outcomes] = edge
        ? [null, [], [], []]
        : only
          ? [await shard.read(id), [], [], []]
          : await Promise.all([shard.read(id), shard.triggers(id), shard.views(id), shard.outcomes(id)]);
      // the writer's state is a valid profile already; a snapshot (or an upgrade's KV profile) is checked
      const raw = held ?? (await kv.get(kvKeys.profile(id), "json"));
      const parsed = held ? { ok: true as const, profile: held } : raw === null ? null : parseProfile(raw);
      const profile = parsed?.ok ? parsed.profile : raw;
      if (only) {
        if (raw === null) throw new ApiError("NOT_FOUND", "no profile is stored for this user");
        return c.json({ user: id, profile });
      }
      const features: Record<string, unknown> = {};
      const prefix = kvKeys.featuresPrefix(id);
      const own = await listOwnKeys(kv, prefix);
      for (const k of own) features[k.slice(prefix.length)] = await kv.get(k, "json");
      if (raw === null && own.length === 0 && triggers.length === 0 && views.length === 0 && outcomes.length === 0)
        throw new ApiError("NOT_FOUND", "nothing is stored for this user");
      return c.json({ user: id, profile, features, triggers, views, outcomes });
    },
  );
}
