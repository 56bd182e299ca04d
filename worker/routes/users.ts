/**
 * The admin API (Bearer ADMIN_API_KEYS):
 *   DELETE /v1/users/<id>          erases the profile and stored decisions, and drops the user's queued events
 *   PUT    /v1/users/<id>/consent  {"personalization":false,"tracking":false,...} opt-out / opt-in (202: queued)
 * Ids must be pseudonymous: an email-shaped id is refused (400 USER_ID_NOT_PSEUDONYMOUS).
 */
import type { Hono } from "hono";
import { looksLikeEmail } from "../../core/events";
import { isOwnKey, kvKeys } from "../../core/kv-keys";
import { ConsentSchema, parseProfile } from "../../core/profile";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { userHash } from "../events/erasure";
import { requireApiKey } from "../lib/api-key";
import { queueConsentChange } from "../profile/consent-update";

function userIdParam(id: string): string {
  if (!id || id.length > 128) throw new ApiError("BAD_REQUEST", "user id must be 1 to 128 characters");
  if (looksLikeEmail(id)) {
    throw new ApiError(
      "USER_ID_NOT_PSEUDONYMOUS",
      "user ids must be pseudonymous: hash email addresses with a secret salt first",
    );
  }
  return id;
}

export function registerUsers(app: Hono<AppEnv>): void {
  const admin = requireApiKey((c) => c.adminApiKeys, "admin");

  app.delete("/v1/users/:id", admin, async (c) => {
    const id = userIdParam(c.req.param("id"));
    const config = getConfig(c.env);
    const kv = c.env.OPENTIME_KV;
    // tombstone first: events still queued for this user are dropped by the consumer
    await kv.put(kvKeys.erasure(await userHash(config.tokenSecrets[0] ?? "", id)), "1", {
      expirationTtl: config.erasureTombstoneDays * 86400,
    });
    const keys = [kvKeys.profile(id), kvKeys.seen(id)];
    for (const prefix of [kvKeys.decisionsPrefix(id), kvKeys.featuresPrefix(id)]) {
      let cursor: string | undefined;
      do {
        const page = await kv.list({ prefix, ...(cursor ? { cursor } : {}) });
        keys.push(...page.keys.map((k) => k.name).filter((name) => isOwnKey(prefix, name)));
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
    }
    await Promise.all(keys.map((k) => kv.delete(k)));
    return c.json({ erased: true, keys_deleted: keys.length });
  });

  // right of access: everything stored about the user (profile and the active model's features)
  app.get("/v1/users/:id", admin, async (c) => {
    const id = userIdParam(c.req.param("id"));
    const kv = c.env.OPENTIME_KV;
    const raw = await kv.get(kvKeys.profile(id), "json");
    const parsed = raw === null ? null : parseProfile(raw);
    const features: Record<string, unknown> = {};
    const prefix = kvKeys.featuresPrefix(id);
    const own = (await kv.list({ prefix })).keys.filter((k) => isOwnKey(prefix, k.name));
    for (const k of own) features[k.name.slice(prefix.length)] = await kv.get(k.name, "json");
    if (raw === null && own.length === 0) throw new ApiError("NOT_FOUND", `nothing is stored for user ${id}`);
    return c.json({ user: id, profile: parsed?.ok ? parsed.profile : raw, features });
  });

  app.put("/v1/users/:id/consent", admin, async (c) => {
    const id = userIdParam(c.req.param("id"));
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError("INVALID_JSON", "the body is not JSON");
    }
    const change = ConsentSchema.partial().omit({ updatedAt: true }).strict().safeParse(body);
    if (!change.success)
      throw new ApiError("BAD_REQUEST", change.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    await queueConsentChange(c.env.EVENTS, id, change.data);
    // applied by the events consumer, in order with the user's events, within about a second
    return c.json({ user: id, queued: change.data }, 202);
  });
}
