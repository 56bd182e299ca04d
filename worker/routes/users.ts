/**
 * The admin API for privacy requests (Bearer ADMIN_API_KEYS):
 *   DELETE /v1/users/<id>          erases the profile and stored decisions, and drops the user's queued events
 *   GET    /v1/users/<id>          right of access: everything stored about the user
 *   PUT    /v1/users/<id>/consent  {"personalization":false,"tracking":false,...} opt-out / opt-in (202: queued)
 * Ids must be pseudonymous: an email-shaped id is refused (400 USER_ID_NOT_PSEUDONYMOUS).
 */
import type { Hono } from "hono";
import { looksLikeEmail, UserIdSchema } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { ConsentChangeSchema, parseProfile } from "../../core/profile";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { eraseUser, listOwnKeys } from "../events/erasure";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";
import { invalidInput } from "../lib/zod-issues";
import { queueConsentChange } from "../profile/consent-update";
import { readerStub } from "../state/shard-routing";

/** Consent changes are small: a few booleans, up to 50 topics. */
const MAX_CONSENT_BYTES = 8192;

function userIdParam(id: string): string {
  const parsed = UserIdSchema.safeParse(id);
  if (parsed.success) return parsed.data;
  if (id.length <= 128 && looksLikeEmail(id)) {
    throw new ApiError(
      "USER_ID_NOT_PSEUDONYMOUS",
      "user ids must be pseudonymous: hash email addresses with a secret salt first",
    );
  }
  throw invalidInput(parsed.error, "BAD_REQUEST", "user id");
}

export function registerUsers(app: Hono<AppEnv>): void {
  const admin = requireApiKey((c) => c.adminApiKeys, "admin");

  app.delete("/v1/users/:id", admin, async (c) => {
    const id = userIdParam(c.req.param("id"));
    const config = getConfig(c.env);
    // the writer first: its tombstone drops the reader's events still queued, in the same transaction that
    // deletes their state; then the edge's copies (snapshot, decisions, features) and the KV tombstone
    const shard = await readerStub(c.env, id).erase(id, Date.now() + config.erasureTombstoneDays * 86_400_000);
    const deleted = await eraseUser(c.env.OPENTIME_KV, id, config.erasureTombstoneDays);
    return c.json({ erased: true, keys_deleted: deleted, rows_deleted: shard.rows });
  });

  app.get("/v1/users/:id", admin, async (c) => {
    const id = userIdParam(c.req.param("id"));
    const kv = c.env.OPENTIME_KV;
    // `?view=edge`: the snapshot opens read (KV); by default the writer's own state, else (a reader the writer
    // has not seen since an upgrade) the snapshot
    const edge = c.req.query("view") === "edge";
    const shard = readerStub(c.env, id);
    const [held, triggers, views] = edge
      ? [null, [], []]
      : await Promise.all([shard.read(id), shard.triggers(id), shard.views(id)]);
    const raw = held ?? (await kv.get(kvKeys.profile(id), "json"));
    const parsed = raw === null ? null : parseProfile(raw);
    const features: Record<string, unknown> = {};
    const prefix = kvKeys.featuresPrefix(id);
    const own = await listOwnKeys(kv, prefix);
    for (const k of own) features[k.slice(prefix.length)] = await kv.get(k, "json");
    if (raw === null && own.length === 0 && triggers.length === 0 && views.length === 0)
      throw new ApiError("NOT_FOUND", "nothing is stored for this user");
    return c.json({ user: id, profile: parsed?.ok ? parsed.profile : raw, features, triggers, views });
  });

  app.put("/v1/users/:id/consent", admin, async (c) => {
    const id = userIdParam(c.req.param("id"));
    const change = await readValidBody(c, ConsentChangeSchema, MAX_CONSENT_BYTES);
    const queued = await queueConsentChange(c.env.EVENTS, id, change);
    if (!queued.ok) {
      throw new ApiError("EVENTS_UNAVAILABLE", "the consent change could not be queued: retry it", {
        "Retry-After": "1",
      });
    }
    // applied by the events consumer, in order with the user's events, within about a second
    return c.json({ user: id, queued: change }, 202);
  });
}
