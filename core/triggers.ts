/**
 * Triggers: rules on a reader's events that call the shop's webhook, so its ESP sends an email with an
 * open-time token. `cart-abandoned`: a cart add with no purchase within `afterMinutes`; a purchase after the
 * cart add cancels it, a later cart add moves it (due `afterMinutes` after the latest), and a reader gets it at
 * most once per `cooldownHours`. The configuration is one KV document written by the admin API; the reader
 * shards keep each reader's pending triggers and deliver them (worker/state/trigger-table.ts). Pure.
 */
import { z } from "zod";
import { CampaignIdSchema } from "./campaign";
import type { QueuedEvent } from "./events";

export const TRIGGER_TYPES = ["cart-abandoned"] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];

/** A cart older than this past its due time when it arrives (a history import, a long outage) never fires. */
export const STALE_AFTER_SECONDS = 3600;
/** Items named in a delivery (the latest cart adds). */
export const MAX_TRIGGER_ITEMS = 10;
export const MAX_TRIGGERS = 20;

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
/** https, or http to this machine (local development). */
const WebhookSchema = z
  .string()
  .max(2048)
  .refine(
    (u) => {
      try {
        const url = new URL(u);
        return url.protocol === "https:" || (url.protocol === "http:" && LOCAL_HOSTS.has(url.hostname));
      } catch {
        return false;
      }
    },
    { message: "an https URL (http only to localhost or 127.0.0.1)" },
  );

export const TriggerSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "trigger ids are 1-64 letters, digits, '_', '-'"),
  type: z.enum(TRIGGER_TYPES),
  /** minutes after the (latest) cart add with no purchase */
  afterMinutes: z.number().int().min(1).max(10_080),
  /** at most one delivery per reader in this many hours */
  cooldownHours: z.number().int().min(0).max(8760).default(24),
  /** the campaign of the open-time token the delivery carries */
  campaign: CampaignIdSchema,
  /** the token's lifetime */
  tokenTtlDays: z.number().int().min(1).max(90).default(7),
  /** where deliveries are POSTed (signed: core/webhook-signature.ts) */
  webhook: WebhookSchema,
  /** false keeps the trigger's definition but schedules nothing new */
  enabled: z.boolean().default(true),
});
export type Trigger = z.infer<typeof TriggerSchema>;

export const TriggersConfigSchema = z
  .strictObject({ v: z.literal(1), triggers: z.array(TriggerSchema).max(MAX_TRIGGERS) })
  .refine((c) => new Set(c.triggers.map((t) => t.id)).size === c.triggers.length, {
    message: "each trigger id at most once",
    path: ["triggers"],
  });
export type TriggersConfig = z.infer<typeof TriggersConfigSchema>;
export const NO_TRIGGERS: TriggersConfig = { v: 1, triggers: [] };

/** A reader's pending (or last) delivery of one trigger, as the shard keeps it. */
export interface TriggerState {
  /** time of the cart add it waits on (unix s) */
  cartTs: number;
  items: string[];
  /** unix s */
  dueAt: number;
  state: "pending" | "delivered" | "cancelled" | "failed";
  /** unix s of the last delivery, for the cooldown */
  deliveredAt: number | null;
}

/**
 * The state after a reader's newly applied events (any order), or null for no change. `lastPurchaseTs` is the
 * reader's latest purchase after these events (the profile's): a cart add no later than it never fires.
 */
export function nextTriggerState(
  trigger: Trigger,
  current: TriggerState | null,
  events: readonly QueuedEvent[],
  lastPurchaseTs: number | null,
  nowS: number,
): TriggerState | null {
  let next = current ? { ...current, items: [...current.items] } : null;
  let changed = false;
  const carts = events.filter((e) => e.type === "cart_add").sort((a, b) => a.ts - b.ts);
  if (trigger.enabled) {
    for (const e of carts) {
      const dueAt = Math.max(
        e.ts + trigger.afterMinutes * 60,
        typeof next?.deliveredAt === "number" ? next.deliveredAt + trigger.cooldownHours * 3600 : 0,
      );
      if (dueAt < nowS - STALE_AFTER_SECONDS) continue;
      if (next && e.ts < next.cartTs) {
        // an older cart add arriving late: its item joins, the timer stays with the latest
        if (next.state === "pending" && e.item && !next.items.includes(e.item) && next.items.length < MAX_TRIGGER_ITEMS)
          next.items.push(e.item);
        changed = true;
        continue;
      }
      const items = next?.state === "pending" ? next.items : [];
      if (e.item) {
        const at = items.indexOf(e.item);
        if (at >= 0) items.splice(at, 1);
        items.unshift(e.item);
      }
      next = {
        cartTs: e.ts,
        items: items.slice(0, MAX_TRIGGER_ITEMS),
        dueAt,
        state: "pending",
        deliveredAt: next?.deliveredAt ?? null,
      };
      changed = true;
    }
  }
  // a purchase at or after the cart add: nothing was abandoned
  if (next?.state === "pending" && lastPurchaseTs !== null && lastPurchaseTs >= next.cartTs) {
    next = { ...next, state: "cancelled" };
    changed = true;
  }
  return changed ? next : null;
}

/** The body POSTed to the webhook. */
export interface TriggerDelivery {
  /** the same on every retry of one delivery: the receiver keeps the ids it handled */
  id: string;
  trigger: string;
  type: TriggerType;
  user: string;
  campaign: string;
  /** open-time token for the campaign (amp-list, images, clicks) */
  token: string;
  items: string[];
  /** the cart add it fired on, and when it was due (ISO) */
  cartAt: string;
  dueAt: string;
  attempt: number;
}

/** Retry delays after failed deliveries (seconds); past the last the delivery is given up (`failed`). */
export const RETRY_DELAYS_S = [60, 300, 1800, 7200, 21_600, 86_400] as const;
