/**
 * The ids of the items a campaign's own cards stand as (core/campaign.ts staticItem, countdownItem): never a
 * product's, so nothing about products (the live catalog's availability) applies to them.
 */
export function isCardId(id: string): boolean {
  return id.startsWith("static:") || id.startsWith("countdown:");
}
