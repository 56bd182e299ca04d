/**
 * Triggers: rules that call the shop's webhook, so its ESP sends an email with an open-time token.
 *   `cart-abandoned`: a cart add with no purchase within `afterMinutes`; a purchase after the cart add cancels
 *     it, a later cart add moves it (due `afterMinutes` after the latest), a cart remove takes its item out of it
 *     (and cancels it once it names none), and a reader gets it at most once per `cooldownHours`.
 *   `viewed-back-in-stock`, `viewed-price-drop`: an item the reader viewed within `viewedWithinDays` comes back
 *     (the live catalog's change, core/catalog-changes.ts) or gets at least `minDropPercent` cheaper; due at
 *     once, at most once per `cooldownHours` (a change within the cooldown is dropped, not kept for later).
 * The configuration is one KV document written by the admin API; the reader shards keep each reader's pending
 * triggers and deliver them (worker/state/trigger-table.ts). Pure.
 */
import { z } from "zod";
import { CampaignIdSchema } from "./campaign";
import type { QueuedEvent } from "./events";
import { fnv1a32 } from "./fnv";
import type { Consent } from "./profile";
import { isLoopbackHost } from "./web-url";

export const TRIGGER_TYPES = ["cart-abandoned", "viewed-back-in-stock", "viewed-price-drop"] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];
export const VIEWED_TRIGGER_TYPES = ["viewed-back-in-stock", "viewed-price-drop"] as const;
export type ViewedTriggerType = (typeof VIEWED_TRIGGER_TYPES)[number];

/**
 * A cart add older than this past its own due time (`afterMinutes` after it, whatever a cooldown adds) when it
 * arrives (a history import, a long outage) never fires.
 */
export const STALE_AFTER_SECONDS = 3600;
/**
 * A delivery whose first webhook call could not be made within this long of its due time (the webhook secret
 * missing, the configuration unreadable, a long outage) is dropped, not sent days late: a cart or a price moves on.
 */
export const LATE_AFTER_SECONDS = 86_400;
/** The longest a cart-abandoned trigger waits after a cart add: a week. */
export const MAX_AFTER_MINUTES = 10_080;
/** Items named in a delivery (the latest cart adds). */
export const MAX_TRIGGER_ITEMS = 10;
export const MAX_TRIGGERS = 20;

/** https, or http to this machine (local development). */
const WebhookSchema = z
  .string()
  .max(2048)
  .refine(
    (u) => {
      try {
        const url = new URL(u);
        return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
      } catch {
        return false;
      }
    },
    { message: "an https URL (http only to localhost or 127.0.0.1)" },
  );

/** What every type has. */
const TriggerFields = {
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "trigger ids are 1-64 letters, digits, '_', '-'"),
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
};

/** The longest look back for views (the shards keep no views older: worker/state/views-table.ts). */
export const MAX_VIEWED_WITHIN_DAYS = 90;
/** only views this recent count */
const ViewedWithinDays = z.number().int().min(1).max(MAX_VIEWED_WITHIN_DAYS).default(30);
/** The smallest price drop any trigger may ask for (the catalog writer records none smaller). */
export const MIN_DROP_PERCENT = 1;

export const CartAbandonedSchema = z.strictObject({
  ...TriggerFields,
  type: z.literal("cart-abandoned"),
  /** minutes after the (latest) cart add with no purchase */
  afterMinutes: z.number().int().min(1).max(MAX_AFTER_MINUTES),
});
export const ViewedBackInStockSchema = z.strictObject({
  ...TriggerFields,
  type: z.literal("viewed-back-in-stock"),
  viewedWithinDays: ViewedWithinDays,
});
export const ViewedPriceDropSchema = z.strictObject({
  ...TriggerFields,
  type: z.literal("viewed-price-drop"),
  viewedWithinDays: ViewedWithinDays,
  /** the effective price fell by at least this share of what it was just before the change (percent) */
  minDropPercent: z.number().min(MIN_DROP_PERCENT).max(90).default(5),
});

export const TriggerSchema = z.discriminatedUnion("type", [
  CartAbandonedSchema,
  ViewedBackInStockSchema,
  ViewedPriceDropSchema,
]);
export type Trigger = z.infer<typeof TriggerSchema>;
export type CartAbandonedTrigger = z.infer<typeof CartAbandonedSchema>;
export type ViewedTrigger = z.infer<typeof ViewedBackInStockSchema> | z.infer<typeof ViewedPriceDropSchema>;

export function isViewedTrigger(t: Trigger): t is ViewedTrigger {
  return t.type !== "cart-abandoned";
}

export const TriggersConfigSchema = z
  .strictObject({ v: z.literal(1), triggers: z.array(TriggerSchema).max(MAX_TRIGGERS) })
  .refine((c) => new Set(c.triggers.map((t) => t.id)).size === c.triggers.length, {
    message: "each trigger id at most once",
    path: ["triggers"],
  });
export type TriggersConfig = z.infer<typeof TriggersConfigSchema>;
export const NO_TRIGGERS: TriggersConfig = { v: 1, triggers: [] };

/**
 * Why a delivery was cancelled (kept in its row, shown by the right of access, logged as `trigger.cancelled`): a
 * closed list. `purchased`: nothing was abandoned (a cart), or every item viewed was bought since; `cart-emptied`:
 * every item a cart delivery named was removed from the cart (cart_remove) before it was sent; `unsubscribed`,
 * `tracking-off`, `paused` (a pause lasting past a day after its due time: pauseEnd): the reader's consent;
 * `personalization-off`: a viewed-* delivery (what a reader viewed is personal); `trigger-off`: removed, switched
 * off, or now of another type; `reader-gone`: no profile held;
 * `frequency`: another triggered send reached the reader within their frequency preference; `stale`: its first
 * call could not be made within LATE_AFTER_SECONDS of its due time; `holdout`: the global holdout holds the
 * reader (core/experiments/assignment.ts inGlobalHoldout), who gets nothing opentime would send them;
 * `change-undone`: what a viewed-* delivery announced no longer holds for any item it names when it is sent (out
 * of stock or switched off again, the price back up: core/catalog-changes.ts stillHolds).
 */
export const CANCEL_REASONS = [
  "purchased",
  "cart-emptied",
  "unsubscribed",
  "tracking-off",
  "paused",
  "personalization-off",
  "trigger-off",
  "reader-gone",
  "frequency",
  "stale",
  "holdout",
  "change-undone",
] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/**
 * Why a delivery was given up (`failed`) after an attempt (kept in its row, shown by the right of access, logged
 * as `trigger.given_up`): a closed list. `refused`: the webhook answered a 4xx that no retry can change
 * (webhookVerdict), so it was given up after that attempt; `retries-exhausted`: its last retry failed too
 * (RETRY_DELAYS_S).
 */
export const GIVE_UP_REASONS = ["refused", "retries-exhausted"] as const;
export type GiveUpReason = (typeof GIVE_UP_REASONS)[number];

/**
 * What in the reader's consent stops a delivery (`viewed`: a viewed-* one), or null: tracking off, unsubscribed,
 * paused at `nowS` (ignored when `nowS` is null: a pause ends), personalization off for viewed-*.
 */
export function consentStops(
  consent: { tracking: boolean; unsubscribed: boolean; personalization: boolean; pausedUntil: number | null },
  viewed: boolean,
  nowS: number | null,
): CancelReason | null {
  if (!consent.tracking) return "tracking-off";
  if (consent.unsubscribed) return "unsubscribed";
  if (nowS !== null && (consent.pausedUntil ?? 0) > nowS) return "paused";
  if (viewed && !consent.personalization) return "personalization-off";
  return null;
}

/**
 * When a delivery due while the reader's sends are paused is tried again (unix s): at the pause's end, when that
 * comes within LATE_AFTER_SECONDS of its due time (less a minute, for the alarm's own lateness), as any delivery
 * that could not go on time is kept that long; null: the pause outlasts it, and it is cancelled (`paused`) now,
 * its items emptied rather than kept for a send that would come too late. A pause says "not now", not "never about
 * this": a cart abandoned the evening before it ends is still the reader's cart in the morning.
 */
export function pauseEnd(pausedUntil: number | null, dueAt: number): number | null {
  if (pausedUntil === null || pausedUntil > dueAt + LATE_AFTER_SECONDS - 60) return null;
  return pausedUntil;
}

/**
 * What in the reader's consent keeps a new delivery due at `dueAt` from being scheduled at all, or null:
 * consentStops, but a pause that ends within LATE_AFTER_SECONDS of its due time (pauseEnd), which a pending
 * delivery waits out, holds a new one back no more: it is scheduled and waits the same (a price that drops the
 * evening before a short pause ends is still news in the morning). A longer pause stops it (`paused`): nothing of
 * the reader is kept for a send that would be cancelled when due.
 */
export function consentStopsNew(
  consent: { tracking: boolean; unsubscribed: boolean; personalization: boolean; pausedUntil: number | null },
  viewed: boolean,
  dueAt: number,
): CancelReason | null {
  // whatever the time (tracking, unsubscribed, personalization): a pause never hides these
  const always = consentStops(consent, viewed, null);
  if (always !== null) return always;
  const paused = consentStops(consent, viewed, dueAt) !== null;
  return paused && pauseEnd(consent.pausedUntil, dueAt) === null ? "paused" : null;
}

/**
 * A reader's frequency preference (the consent API, the email's preferences form) as the shortest time between
 * two triggered sends to them, whatever the triggers (days). No preference: only each trigger's cooldown.
 */
export const FREQUENCY_DAYS: Readonly<Record<NonNullable<Consent["frequency"]>, number>> = {
  daily: 1,
  weekly: 7,
  monthly: 30,
};

/**
 * Whether a triggered send may begin at `nowS` for a reader with this frequency preference whose latest triggered
 * send (of any trigger) counted from `lastSentS` (null: none): at most one per FREQUENCY_DAYS.
 */
export function frequencyAllows(frequency: Consent["frequency"], lastSentS: number | null, nowS: number): boolean {
  if (frequency === null || lastSentS === null) return true;
  return nowS >= lastSentS + FREQUENCY_DAYS[frequency] * 86_400;
}

/** A reader's pending (or last) delivery of one trigger, as the shard keeps it. */
export interface TriggerState {
  /** time of the cart add it waits on, or of the catalog change it announces (viewed-*) (unix s) */
  cartTs: number;
  items: string[];
  /** unix s */
  dueAt: number;
  state: "pending" | "delivered" | "cancelled" | "failed";
  /** unix s of the last delivery, for the cooldown */
  deliveredAt: number | null;
  /** why these events cancelled it (absent: they did not; a row cancelled before keeps its own reason) */
  reason?: CancelReason;
}

/**
 * What the reader's shard knows of an item in the reader's cart (worker/state/cart-items-table.ts): the times
 * (unix s) of its latest cart add and latest cart remove, whatever order they arrived in.
 */
export interface CartTimes {
  added?: number;
  removed?: number;
}

/**
 * The items of a pending cart delivery after a `cart_remove` of one of them (null: unchanged): the item goes,
 * unless it was added again after the removal (a removal arriving late). `latestAdd` is the item's latest add
 * when the shard knows it (CartTimes); without it (a row older than that record) only the delivery's latest add
 * is known (`cartTs`, its item `items[0]`). A removal takes the item out whatever its quantity was: events carry
 * no cart, and the receiver holds it.
 */
export function itemsAfterRemoval(
  cartTs: number,
  items: readonly string[],
  removal: QueuedEvent,
  latestAdd?: number,
): string[] | null {
  const at = removal.item === undefined ? -1 : items.indexOf(removal.item);
  if (at < 0) return null;
  const addedSince = latestAdd === undefined ? at === 0 && removal.ts < cartTs : latestAdd > removal.ts;
  if (addedSince) return null;
  return [...items.slice(0, at), ...items.slice(at + 1)];
}

/**
 * The items of a pending cart delivery without those already in the cart at the reader's latest purchase
 * (`lastPurchaseTs`), or null when none is left out: an item whose latest add (CartTimes) is at or before it went
 * with that purchase, as a purchase after every add cancels the whole wait; one whose add the shard does not know
 * (a row older than that record) stays. So a delivery names the same items whatever order an add, the purchase
 * and a later add arrive in (in order, the purchase cancels the first wait and the later add starts a new one).
 */
export function itemsAfterPurchase(
  items: readonly string[],
  lastPurchaseTs: number | null,
  cart: ReadonlyMap<string, CartTimes>,
): string[] | null {
  if (lastPurchaseTs === null) return null;
  const kept = items.filter((item) => (cart.get(item)?.added ?? Number.POSITIVE_INFINITY) > lastPurchaseTs);
  return kept.length === items.length ? null : kept;
}

/**
 * The events with the removes the shard knows of (CartTimes) that came after a cart add among them: a remove
 * that arrived before its own add (another request, a retried batch) still takes the item out once the add
 * arrives. Another batch's remove taken again changes nothing (itemsAfterRemoval reads the item's latest add).
 */
function withKnownRemoves(events: readonly QueuedEvent[], cart: ReadonlyMap<string, CartTimes>): QueuedEvent[] {
  const known: QueuedEvent[] = [];
  for (const e of events) {
    if (e.type !== "cart_add" || e.item === undefined) continue;
    const removed = cart.get(e.item)?.removed;
    if (removed === undefined || removed < e.ts) continue;
    const item = e.item;
    const listed = (r: QueuedEvent) => r.type === "cart_remove" && r.item === item && r.ts === removed;
    if (!events.some(listed) && !known.some(listed))
      known.push({ id: `known-remove:${item}`, type: "cart_remove", user: e.user, item, ts: removed });
  }
  return known.length > 0 ? [...events, ...known] : [...events];
}

/**
 * The state after a reader's newly applied events (any order), or null for no change. `lastPurchaseTs` is the
 * reader's latest purchase after these events (the profile's): a cart add no later than it never fires, nor
 * names an item in a later wait (itemsAfterPurchase). Cart adds
 * and removes are taken in time order (an add before a remove of the same second): a remove takes its item out
 * of the pending delivery (itemsAfterRemoval), and one that leaves it naming none cancels it (`cart-emptied`), so
 * a later add starts a new wait; removes count for a switched-off trigger too (its pending row is cancelled when
 * due). `cart` is what the shard knows of the reader's cart items after these events (CartTimes): a remove that
 * arrived before its add still counts (withKnownRemoves), and a late remove keeps an item added again since.
 */
export function nextTriggerState(
  trigger: CartAbandonedTrigger,
  current: TriggerState | null,
  events: readonly QueuedEvent[],
  lastPurchaseTs: number | null,
  nowS: number,
  cart: ReadonlyMap<string, CartTimes> = new Map(),
): TriggerState | null {
  let next = current ? { ...current, items: [...current.items] } : null;
  let changed = false;
  const carts = withKnownRemoves(events, cart)
    .filter((e) => e.type === "cart_add" || e.type === "cart_remove")
    .sort((a, b) => a.ts - b.ts || (a.type === b.type ? 0 : a.type === "cart_add" ? -1 : 1));
  for (const e of carts) {
    if (e.type === "cart_remove") {
      const latestAdd = e.item === undefined ? undefined : cart.get(e.item)?.added;
      const items = next?.state === "pending" ? itemsAfterRemoval(next.cartTs, next.items, e, latestAdd) : null;
      if (next && items) {
        next = items.length > 0 ? { ...next, items } : { ...next, items, state: "cancelled", reason: "cart-emptied" };
        changed = true;
      }
      continue;
    }
    if (trigger.enabled) {
      const dueAt = Math.max(
        e.ts + trigger.afterMinutes * 60,
        typeof next?.deliveredAt === "number" ? next.deliveredAt + trigger.cooldownHours * 3600 : 0,
      );
      // stale by its own due time: a cooldown that puts the wait later does not make an old cart add fresh
      if (e.ts + trigger.afterMinutes * 60 < nowS - STALE_AFTER_SECONDS) continue;
      if (next && e.ts < next.cartTs) {
        // an older cart add arriving late: its item joins, the timer stays with the latest; a wait its removes emptied
        // names it again (the cart was not empty after all: a remove of it known since comes after, in time order)
        if (e.item && next.state === "cancelled" && next.reason === "cart-emptied") {
          const { reason: _, ...kept } = next;
          next = { ...kept, state: "pending", items: [e.item] };
        } else if (
          next.state === "pending" &&
          e.item &&
          !next.items.includes(e.item) &&
          next.items.length < MAX_TRIGGER_ITEMS
        )
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
  // a purchase at or after the cart add: nothing was abandoned; before it, what was in the cart then was bought
  const kept = next?.state === "pending" ? itemsAfterPurchase(next.items, lastPurchaseTs, cart) : null;
  if (next?.state === "pending" && lastPurchaseTs !== null && lastPurchaseTs >= next.cartTs) {
    next = { ...next, state: "cancelled", reason: "purchased" };
    changed = true;
  } else if (next && kept) {
    next =
      kept.length > 0 ? { ...next, items: kept } : { ...next, items: kept, state: "cancelled", reason: "purchased" };
    changed = true;
  }
  return changed ? next : null;
}

/** A catalog change older than this when it reaches a reader's shard (a long outage) notifies nobody. */
export const CHANGE_STALE_AFTER_SECONDS = 3600;

/** One item of a viewed-* delivery, as the shard keeps it. */
export interface ViewedItem {
  item: string;
  /** the reader's latest view of it (unix s) */
  viewedAt: number;
  /** price drops: the effective price just before the change and after it, in `currency` (null: unknown) */
  oldPrice?: number;
  newPrice?: number;
  currency?: string | null;
  /**
   * the live catalog's version the change is in (core/catalog-changes.ts CatalogChange): when sent, it is checked
   * again only against a copy at least as new (absent: one an earlier version scheduled, never checked)
   */
  version?: number;
}

/**
 * What one catalog change does to a reader's row of a viewed-* trigger: `new` starts a delivery due now,
 * `merge` adds the item to the pending one (or updates it there), `skip` does nothing: the trigger is off, the
 * change is stale, the pending delivery was tried already (its receiver may hold that id, so its content stays),
 * it names MAX_TRIGGER_ITEMS items, or the last delivery was less than `cooldownHours` ago.
 */
export function nextViewedStep(
  trigger: ViewedTrigger,
  current: (Pick<TriggerState, "state" | "items" | "deliveredAt"> & { tried: boolean }) | null,
  item: string,
  changeAt: number,
  nowS: number,
): "new" | "merge" | "skip" {
  if (!trigger.enabled || changeAt < nowS - CHANGE_STALE_AFTER_SECONDS) return "skip";
  if (current?.state === "pending") {
    if (current.tried) return "skip";
    return current.items.includes(item) || current.items.length < MAX_TRIGGER_ITEMS ? "merge" : "skip";
  }
  if (current?.deliveredAt != null && nowS < current.deliveredAt + trigger.cooldownHours * 3600) return "skip";
  return "new";
}

/**
 * The steps of the back-off after failed attempts (seconds): the wait after the n-th failure is between half and
 * all of the n-th step (retryDelayMs). Past the last the delivery is given up (`failed`): 7 attempts in all.
 */
export const RETRY_DELAYS_S = [60, 300, 1800, 7200, 21_600, 86_400] as const;

/** What every delivery's body holds. */
const DeliveryFields = {
  id: z
    .string()
    .describe("the delivery's id, the same on every retry (its Opentime-Delivery header): keep the ids you handled"),
  trigger: z.string().describe("the trigger's id"),
  user: z.string().describe("the reader's (pseudonymous) id"),
  campaign: z.string().describe("the campaign of the token"),
  token: z.string().describe("open-time token for the campaign (amp-list, images, clicks): a send of its own"),
  items: z.array(z.string()).max(MAX_TRIGGER_ITEMS).describe("newest first"),
  dueAt: z.iso.datetime().describe("when it was due"),
  attempt: z
    .number()
    .int()
    .min(1)
    .max(RETRY_DELAYS_S.length + 1)
    .describe("1 on the first call, one more on each retry"),
};

/**
 * The body POSTed to the webhook (the OpenAPI description's `webhooks`, worker/openapi/document.ts).
 * `cart-abandoned` names the cart add it fired on (`cartAt`); viewed-* the catalog change it announces
 * (`changedAt`, the first when several items are named) and one entry per item, in the order of `items`, price drops
 * with the prices (when the reader viewed it stays in the shard: the receiver needs what changed, not the reader's
 * browsing times).
 */
export const TriggerDeliverySchema = z.discriminatedUnion("type", [
  z.strictObject({
    ...DeliveryFields,
    type: z.literal("cart-abandoned"),
    cartAt: z.iso.datetime().describe("the cart add it fired on"),
  }),
  z.strictObject({
    ...DeliveryFields,
    type: z.enum(VIEWED_TRIGGER_TYPES),
    changedAt: z.iso.datetime().describe("the catalog change it announces (the first, when several items are named)"),
    changes: z
      .array(
        z.strictObject({
          item: z.string(),
          oldPrice: z.number().optional().describe("price drops: the effective price just before the change"),
          newPrice: z.number().optional().describe("price drops: the price after it"),
          currency: z.string().nullable().optional().describe("price drops: null when neither catalog gives one"),
        }),
      )
      .max(MAX_TRIGGER_ITEMS),
  }),
]);
export type TriggerDelivery = z.infer<typeof TriggerDeliverySchema>;

/**
 * The longest wait a webhook's `Retry-After` is honoured for (seconds): the last back-off step, and never past
 * LATE_AFTER_SECONDS (a cart or a price has moved on by then). A longer one waits this long.
 */
export const MAX_RETRY_AFTER_S = Math.min(Math.max(...RETRY_DELAYS_S), LATE_AFTER_SECONDS);

/**
 * What a webhook's answer makes of a delivery: `delivered` (2xx); `refused` (a 4xx that says the receiver will
 * not take this body: sending the same body again cannot change that, so it is given up at once); `retry`
 * (anything else: 5xx, a 3xx, which is never followed, no answer within the deadline or a network failure, and the
 * 4xx that say "not now": RETRIED_4XX).
 */
export type WebhookVerdict = "delivered" | "refused" | "retry";

/**
 * 4xx answers that are retried: the signature or the caller refused (401, 403: a TRIGGER_WEBHOOK_SECRET rotated
 * before the receiver took the new one, or its access rules being changed; the body is not at fault), the URL not
 * there (404: a receiver being deployed, or a wrong URL that a PUT of the triggers mends for the retries), which
 * an operator mends within the retries' 16 to 33 hours (RETRY_DELAYS_S, jittered), the receiver's own timeout
 * (408), a conflict with a request in progress (409: such as the same delivery id still being handled), too early
 * (425), too many requests (429). 410 Gone, 400, 413, 422 and the rest say the body will never be taken.
 */
export const RETRIED_4XX: ReadonlySet<number> = new Set([401, 403, 404, 408, 409, 425, 429]);

/** The answers whose `Retry-After` is honoured: too many requests, and unavailable for now. */
export const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** How long a webhook may take to answer (worker/triggers/deliver.ts); no answer by then is retried. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** `status` null: no answer (a timeout, a network failure). */
export function webhookVerdict(status: number | null): WebhookVerdict {
  if (status !== null && status >= 200 && status < 300) return "delivered";
  if (status !== null && status >= 400 && status < 500 && !RETRIED_4XX.has(status)) return "refused";
  return "retry";
}

/**
 * The wait a `Retry-After` header asks for (seconds from `nowMs`): delay-seconds, or an HTTP date (0 when past);
 * null when there is none or it cannot be read.
 */
export function retryAfterSeconds(value: string | null, nowMs: number): number | null {
  const text = value?.trim() ?? "";
  if (/^\d+$/.test(text)) return Number(text);
  // a date names its month (Date.parse reads "1.5" as a day of 2001)
  const at = /[A-Za-z]/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - nowMs) / 1000)) : null;
}

/**
 * MurmurHash3's finalizer: every input bit moves every output bit (FNV-1a alone leaves a change in the last
 * characters, such as an id's, to few of the high bits).
 */
function mix32(h: number): number {
  let x = h;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * How long after a failed attempt the next one waits (ms), or null when that was the last (given up).
 * `attempts`: how many were made before the failed one. Equal jitter: half the step, plus up to another half by a
 * hash of the attempt and the delivery id, so the deliveries a receiver's outage failed come back spread out, and
 * the same delivery and attempt always wait the same (no random source: reproducible, in tests too). The
 * receiver's `Retry-After` (`retryAfterS`) makes it wait at least that long, up to MAX_RETRY_AFTER_S.
 */
export function retryDelayMs(delivery: string, attempts: number, retryAfterS: number | null): number | null {
  const step = RETRY_DELAYS_S[attempts];
  if (step === undefined) return null;
  const share = mix32(fnv1a32(`${attempts}:${delivery}`)) / 2 ** 32;
  const jittered = Math.floor(step * 500 * (1 + share));
  return Math.max(jittered, Math.min(retryAfterS ?? 0, MAX_RETRY_AFTER_S) * 1000);
}
