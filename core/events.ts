/**
 * Real-time events as the API accepts them (POST /v1/events, the pixel, the batch importer), validated
 * with zod. User ids are pseudonymous: anything shaped like an email address is refused.
 */
import { z } from "zod";
import type { Consent } from "./profile";

export const EVENT_TYPES = [
  "view",
  "cart_add",
  "cart_remove",
  "purchase",
  "email_open",
  "email_click",
  "custom",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Types that name an item. */
export const ITEM_EVENTS: ReadonlySet<EventType> = new Set([
  "view",
  "cart_add",
  "cart_remove",
  "purchase",
  "email_click",
]);

const EMAIL_LIKE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function looksLikeEmail(id: string): boolean {
  return EMAIL_LIKE.test(id.trim());
}

export const UserIdSchema = z
  .string()
  .min(1)
  .max(128)
  .refine((id) => !looksLikeEmail(id), {
    message: "user ids must be pseudonymous: hash email addresses with a secret salt (see README) before sending them",
  });

export const IncomingEventSchema = z
  .object({
    /** unique per event: duplicates and replays are counted once */
    id: z.string().min(1).max(128),
    type: z.enum(EVENT_TYPES),
    user: UserIdSchema,
    item: z.string().min(1).max(128).optional(),
    /** unix seconds, unix milliseconds, or an ISO-8601 date */
    ts: z.union([z.number(), z.string()]),
    campaign: z.string().max(128).optional(),
    properties: z.record(z.string(), z.union([z.string().max(512), z.number(), z.boolean()])).optional(),
  })
  .refine((e) => !ITEM_EVENTS.has(e.type) || e.item !== undefined, {
    message: "this event type needs an item",
    path: ["item"],
  });
export type IncomingEvent = z.infer<typeof IncomingEventSchema>;

/**
 * What goes on the queue: a validated event, or an internal `consent` change (from the admin API or the
 * email's form). Every profile write goes through the one consumer, so none can overwrite another.
 */
export interface QueuedEvent {
  id: string;
  type: EventType | "consent";
  user: string;
  item?: string;
  ts: number;
  campaign?: string;
  /** order value for purchases (properties.value, or price x quantity) */
  value?: number;
  /** for `consent` messages: the fields to set */
  consent?: Partial<Omit<Consent, "updatedAt">>;
}

export function eventTime(ts: number | string): number {
  if (typeof ts === "number") return ts > 1e12 ? Math.floor(ts / 1000) : Math.floor(ts);
  return Math.floor(Date.parse(ts) / 1000);
}

export function toQueued(e: IncomingEvent): QueuedEvent {
  const p = e.properties ?? {};
  const value =
    typeof p.value === "number"
      ? p.value
      : typeof p.price === "number"
        ? p.price * (typeof p.quantity === "number" ? p.quantity : 1)
        : undefined;
  return { id: e.id, type: e.type, user: e.user, item: e.item, ts: eventTime(e.ts), campaign: e.campaign, value };
}
