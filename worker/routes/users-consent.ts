/**
 * PUT /v1/users/<id>/consent (Bearer ADMIN_API_KEYS) `{"personalization":false,"tracking":false,...}`: an
 * opt-out or opt-in, queued and applied by the reader's shard in order with their events (the latest change
 * wins by time), within about a second. 202 `{user, queued}`; 400 for a body that names no field; 503
 * EVENTS_UNAVAILABLE with Retry-After (without it when no EVENTS queue is bound: events/queue.ts eventsUnavailable).
 * An id an earlier version stored shaped like an address only through a look-alike (core/events.ts
 * HeldUserIdSchema) takes an opt-out alone (core/opt-out.ts): anything else the change holds refuses it, 400
 * USER_ID_NOT_PSEUDONYMOUS naming the fields.
 */
import type { Hono } from "hono";
import { looksLikeEmail } from "../../core/events";
import { optOutOf } from "../../core/opt-out";
import { ConsentChangeSchema } from "../../core/profile";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { eventsUnavailable } from "../events/queue";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";
import { queueConsentChange } from "../profile/consent-update";
import { userIdParam } from "../profile/user-id-param";

/** Consent changes are small: a few booleans, up to 50 topics. */
const MAX_CONSENT_BYTES = 8192;

export function registerUsersConsent(app: Hono<AppEnv>): void {
  app.put(
    "/v1/users/:id/consent",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = userIdParam(c.req.param("id"), true);
      const change = await readValidBody(c, ConsentChangeSchema, MAX_CONSENT_BYTES);
      // a change of nothing is a client's mistake (a form serialized empty), not an opt-in or out to queue
      if (Object.keys(change).length === 0) {
        throw new ApiError("BAD_REQUEST", `name at least one of ${Object.keys(ConsentChangeSchema.shape).join(", ")}`);
      }
      // an opt-out always works; an id shaped like an address as written gets no opt-in: nothing new stored under it
      const { rest } = optOutOf(change, Math.floor(Date.now() / 1000));
      if (looksLikeEmail(id) && rest.length > 0) {
        throw new ApiError(
          "USER_ID_NOT_PSEUDONYMOUS",
          `this user id reads as an email address: only an opt-out is taken for it (personalization or tracking false, unsubscribed true, a pause that ends later), not ${rest.join(", ")}`,
        );
      }
      const queued = await queueConsentChange(c.env.EVENTS, id, change);
      if (!queued.ok) throw eventsUnavailable(queued, "the consent change could not be queued: retry it");
      return c.json({ user: id, queued: change }, 202);
    },
  );
}
