/**
 * One trigger delivery: the JSON body (core/triggers.ts TriggerDelivery) with a fresh open-time token for the
 * trigger's campaign, signed with TRIGGER_WEBHOOK_SECRET (core/webhook-signature.ts), POSTed to the webhook with
 * a deadline. The answer is judged by core/triggers.ts webhookVerdict: a 2xx is delivered; a 4xx other than those of
 * RETRIED_4XX (401, 403, 404, 408, 409, 425, 429) is refused (the shard gives the delivery up: the same body again
 * cannot change it); anything else (5xx, those, a redirect: never followed; no answer in time, a network failure) is retried by the shard,
 * no sooner than a 429's or 503's `Retry-After` asks (core/triggers.ts retryDelayMs). Never throws.
 * Cart-abandoned bodies name the cart add (`cartAt`); viewed-* bodies the catalog change (`changedAt`) and each
 * item with, for price drops, its old and new price (when the reader viewed it stays in the shard).
 */
import { mintToken } from "../../core/token";
import {
  RETRY_AFTER_STATUSES,
  retryAfterSeconds,
  type Trigger,
  type TriggerDelivery,
  type ViewedItem,
  WEBHOOK_TIMEOUT_MS,
  type WebhookVerdict,
  webhookVerdict,
} from "../../core/triggers";
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook } from "../../core/webhook-signature";
import { errorMessage, logEvent } from "../lib/log";
import type { DueDelivery } from "../state/trigger-table";

/**
 * The `User-Agent` of every webhook call. A Worker's fetch sends none of its own, and firewalls in front of
 * receivers refuse requests without one (AWS WAF's core rule set, NoUserAgent_HEADER, answers 403: retried for a
 * day, then given up); it also names the caller in the receiver's access logs.
 */
export const WEBHOOK_USER_AGENT = "opentime-webhook/1";

/**
 * How logs name a delivery: the first 8 characters of its `Opentime-Delivery` id, to find in the receiver's logs (a
 * whole id, 36 characters, would be scrubbed as a token would: worker/lib/log.ts). Logs never name the reader.
 */
export function deliveryRef(delivery: string): string {
  return delivery.slice(0, 8);
}

export interface DeliverySecrets {
  webhookSecret: string;
  tokenSecret: string;
  /**
   * The longest a delivery's token may live (days): shorter than an erased reader's tombstone, whatever the
   * trigger's tokenTtlDays (a configuration stored before PUT checked it, or ERASURE_TOMBSTONE_DAYS lowered since)
   */
  tokenMaxDays: number;
}

/** What the webhook answered, judged. */
export interface WebhookAnswer {
  verdict: WebhookVerdict;
  /** null: no answer (a timeout, a network failure) */
  status: number | null;
  /** a 429's or 503's `Retry-After` (seconds), or null */
  retryAfterS: number | null;
}

/** `viewed`: a viewed-* delivery's items still to announce (the shard left out those bought since). */
export async function deliver(
  due: DueDelivery,
  trigger: Trigger,
  secrets: DeliverySecrets,
  nowMs: number,
  viewed: readonly ViewedItem[] | null = null,
): Promise<WebhookAnswer> {
  const attempt = due.attempts + 1;
  // how the logs name the call: never the reader
  const logged = { trigger: trigger.id, delivery: deliveryRef(due.delivery), attempt };
  try {
    const nowS = Math.floor(nowMs / 1000);
    const iso = (s: number) => new Date(s * 1000).toISOString();
    const fields = {
      id: due.delivery,
      trigger: trigger.id,
      user: due.user,
      campaign: trigger.campaign,
      token: await mintToken(secrets.tokenSecret, {
        user: due.user,
        campaign: trigger.campaign,
        ttlSeconds: Math.min(trigger.tokenTtlDays, secrets.tokenMaxDays) * 86_400,
        now: nowS,
        // the row's reader is stored: one an earlier version took, shaped like an address only through a
        // look-alike, is still sent what it was due (core/token.ts validClaims `held`), never retried for nothing
        held: true,
      }),
      items: viewed ? viewed.map((v) => v.item) : (JSON.parse(due.items) as string[]),
      dueAt: iso(due.due_at),
      attempt,
    };
    const body: TriggerDelivery =
      trigger.type === "cart-abandoned"
        ? { ...fields, type: trigger.type, cartAt: iso(due.cart_ts) }
        : {
            ...fields,
            type: trigger.type,
            changedAt: iso(due.cart_ts),
            changes: (viewed ?? []).map(({ viewedAt: _, version: __, ...rest }) => rest),
          };
    const json = JSON.stringify(body);
    const res = await fetch(trigger.webhook, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": WEBHOOK_USER_AGENT,
        [SIGNATURE_HEADER]: await signWebhook(secrets.webhookSecret, json, nowS),
        [DELIVERY_HEADER]: due.delivery,
      },
      body: json,
      // never followed: a 307 or 308 would send the signed body, and the reader's token in it, wherever it
      // points (a 3xx is not a delivery: retried, and logged with its status)
      redirect: "manual",
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await res.body?.cancel();
    const verdict = webhookVerdict(res.status);
    const retryAfterS = RETRY_AFTER_STATUSES.has(res.status)
      ? retryAfterSeconds(res.headers.get("Retry-After"), Date.now())
      : null;
    if (verdict === "refused") logEvent("warn", "trigger.webhook_refused", { ...logged, status: res.status });
    if (verdict === "retry") logEvent("warn", "trigger.webhook_failed", { ...logged, status: res.status, retryAfterS });
    return { verdict, status: res.status, retryAfterS };
  } catch (e) {
    logEvent("warn", "trigger.webhook_failed", { ...logged, status: null, detail: errorMessage(e) });
    return { verdict: "retry", status: null, retryAfterS: null };
  }
}
