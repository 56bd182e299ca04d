/**
 * PUT /v1/admin/triggers (Bearer ADMIN_API_KEYS): replaces the triggers configuration (core/triggers.ts),
 * `{"v":1,"triggers":[{"id","type":"cart-abandoned","afterMinutes","campaign","webhook",...}]}` (also
 * `viewed-back-in-stock` with `viewedWithinDays`, `viewed-price-drop` with `minDropPercent`). 200
 * `{triggers, warnings}` (a warning when TRIGGER_WEBHOOK_SECRET is not set: nothing would be delivered); 400
 * naming the bad field, a webhook on a private network (an address or name: core/web-url.ts), or a trigger whose
 * tokens would outlive the erasure tombstone (an erased reader's trigger email opened after the tombstone is gone
 * would record their opens again); 503 KV_UNAVAILABLE with Retry-After
 * when KV fails to store it (it may or may not have been: PUT it again). The reader shards and the catalog writer
 * see it within about a minute (their 30-second cache, and KV's propagation).
 */
import type { Hono } from "hono";
import { MIN_SECRET_LENGTH } from "../../core/placeholder-secret";
import { TriggersConfigSchema } from "../../core/triggers";
import { isPrivateNetworkHost } from "../../core/web-url";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { errorMessage, logEvent } from "../lib/log";
import { readValidBody } from "../lib/read-json-body";
import { putTriggers } from "../triggers/trigger-config";

const MAX_BODY = 32_768;

export function registerAdminTriggersPut(app: Hono<AppEnv>): void {
  app.put(
    "/v1/admin/triggers",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const parsed = await readValidBody(c, TriggersConfigSchema, MAX_BODY);
      // a webhook on a private network, as written (an address, a reserved name; not where a name resolves): a
      // deployed Worker cannot reach one, and a self-hosted one is not to be pointed at its neighbours by mistake
      // (the delivery follows no redirect either: worker/triggers/deliver.ts)
      const inside = parsed.triggers.findIndex((t) => isPrivateNetworkHost(new URL(t.webhook).hostname));
      if (inside >= 0)
        throw new ApiError(
          "BAD_REQUEST",
          `triggers[${inside}].webhook: a private network's address or name (10/8, 172.16/12, 192.168/16, 169.254/16, 100.64/10, 0/8, 127/8 but 127.0.0.1, fc00::/7, fe80::/10, .internal, .local, .localhost, .home.arpa): give the receiver's public https URL`,
        );
      const { erasureTombstoneDays } = getConfig(c.env);
      const outliving = parsed.triggers.find((t) => t.tokenTtlDays >= erasureTombstoneDays);
      if (outliving)
        throw new ApiError(
          "BAD_REQUEST",
          `triggers[${parsed.triggers.indexOf(outliving)}].tokenTtlDays: ${outliving.tokenTtlDays} days is not shorter than ERASURE_TOMBSTONE_DAYS (${erasureTombstoneDays}): an erased reader's token must expire before their tombstone`,
        );
      try {
        await putTriggers(c.env.OPENTIME_KV, parsed);
      } catch (e) {
        logEvent("error", "triggers.write_failed", { detail: errorMessage(e) });
        throw new ApiError(
          "KV_UNAVAILABLE",
          "the triggers could not be stored (KV failed): PUT them again, the configuration in force may be the old one",
          { "Retry-After": "1" },
        );
      }
      const warnings = getConfig(c.env).webhookSecret
        ? []
        : [
            `TRIGGER_WEBHOOK_SECRET is not set or shorter than ${MIN_SECRET_LENGTH} characters: deliveries wait until it is (wrangler secret put TRIGGER_WEBHOOK_SECRET)`,
          ];
      return c.json({ triggers: parsed, warnings });
    },
  );
}
