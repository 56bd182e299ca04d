/**
 * Per-campaign settings for open-time images and clicks, stored in KV (`campaign:<id>`) through the admin
 * API. A campaign without settings gets the defaults: `freeze`, 30-day decisions, UTM source "opentime".
 */
import { z } from "zod";
import { ItemRulesSchema } from "./item-rules";

export const CampaignIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "campaign ids are letters, digits, '_', '.', '-'");

export const CampaignSchema = z.object({
  /**
   * `freeze`: the first real open decides what each slot shows, and re-opens and clicks keep it;
   * `live`: every open decides again, and a click follows the latest decision.
   */
  policy: z.enum(["freeze", "live"]).default("freeze"),
  /** how long a decision (and so click-through to it) is kept, in days */
  decisionTtlDays: z.number().int().min(1).max(365).default(30),
  /** appended to every click-through URL; `utm_campaign` defaults to the campaign id */
  utm: z
    .object({
      source: z.string().min(1).max(64).default("opentime"),
      medium: z.string().min(1).max(64).default("email"),
      campaign: z.string().min(1).max(128).optional(),
      /** `utm_content`; defaults to the slot (`row-1`) */
      content: z.string().min(1).max(128).optional(),
    })
    .default({ source: "opentime", medium: "email" }),
  /** a short label drawn on every card (e.g. "New", "-20%"); none by default */
  badge: z.string().min(1).max(16).optional(),
  /** where a click goes when nothing at all can be decided (no model, no fallback items) */
  fallbackUrl: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * a click on a product the live catalog hides since the open (out of stock, switched off): `fallback` goes
   * to `fallbackUrl` (the shop's home without one), `product` to the product page all the same
   */
  unavailableClick: z.enum(["fallback", "product"]).default("fallback"),
  /** item rules over the model's candidates at every open (core/item-rules.ts); none by default */
  items: ItemRulesSchema.optional(),
});
export type Campaign = z.infer<typeof CampaignSchema>;

export const DEFAULT_CAMPAIGN: Campaign = CampaignSchema.parse({});

/** Click-through URL: the product URL with the campaign's UTM parameters (existing ones are kept). */
export function withUtm(productUrl: string, campaignId: string, campaign: Campaign, slot: string): string {
  const url = new URL(productUrl);
  const set = (k: string, v: string) => {
    if (!url.searchParams.has(k)) url.searchParams.set(k, v);
  };
  set("utm_source", campaign.utm.source);
  set("utm_medium", campaign.utm.medium);
  set("utm_campaign", campaign.utm.campaign ?? campaignId);
  set("utm_content", campaign.utm.content ?? slot);
  return url.toString();
}
