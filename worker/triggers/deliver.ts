/**
 * One trigger delivery: the JSON body (core/triggers.ts TriggerDelivery) with a fresh open-time token for the
 * trigger's campaign, signed with TRIGGER_WEBHOOK_SECRET (core/webhook-signature.ts), POSTed to the webhook with
 * a deadline. A 2xx is delivered; anything else (status, timeout, network) is retried by the shard. Never throws.
 */
import { mintToken } from "../../core/token";
import type { Trigger, TriggerDelivery } from "../../core/triggers";
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook } from "../../core/webhook-signature";
import { errorMessage, logEvent } from "../lib/log";
import type { DueDelivery } from "../state/trigger-table";

/** How long a webhook may take to answer. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

export interface DeliverySecrets {
  webhookSecret: string;
  tokenSecret: string;
}

export async function deliver(
  due: DueDelivery,
  trigger: Trigger,
  secrets: DeliverySecrets,
  nowMs: number,
): Promise<{ ok: boolean; status: number | null }> {
  try {
    const nowS = Math.floor(nowMs / 1000);
    const body: TriggerDelivery = {
      id: due.delivery,
      trigger: trigger.id,
      type: trigger.type,
      user: due.user,
      campaign: trigger.campaign,
      token: await mintToken(secrets.tokenSecret, {
        user: due.user,
        campaign: trigger.campaign,
        ttlSeconds: trigger.tokenTtlDays * 86_400,
        now: nowS,
      }),
      items: JSON.parse(due.items) as string[],
      cartAt: new Date(due.cart_ts * 1000).toISOString(),
      dueAt: new Date(due.due_at * 1000).toISOString(),
      attempt: due.attempts + 1,
    };
    const json = JSON.stringify(body);
    const res = await fetch(trigger.webhook, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        [SIGNATURE_HEADER]: await signWebhook(secrets.webhookSecret, json, nowS),
        [DELIVERY_HEADER]: due.delivery,
      },
      body: json,
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (!res.ok) logEvent("warn", "trigger.webhook_refused", { trigger: trigger.id, status: res.status });
    return { ok: res.ok, status: res.status };
  } catch (e) {
    logEvent("warn", "trigger.webhook_failed", { trigger: trigger.id, detail: errorMessage(e) });
    return { ok: false, status: null };
  }
}
