/**
 * How a simulated reader behaves, from the tastes the demo shop planted in its customers (their favourite
 * categories, build/demo/customers.csv): they open with a fixed probability, click with a probability that
 * grows with the share of what the email showed that is to their taste, and buy what they clicked more often
 * when it is. The numbers are the simulation's, not measured ones: they make personalization matter as much as
 * the planted tastes say it should, and no more. Pure.
 */

export interface SimReader {
  id: string;
  /** the favourite categories of the demo customer whose tastes the reader takes */
  tastes: readonly string[];
}

/** A reader opens the email with this probability. */
export const OPEN_RATE = 0.5;
/** Clicks: BASE_CLICK, plus TASTE_CLICK times the share of the shown items in the reader's favourite categories. */
export const BASE_CLICK = 0.03;
export const TASTE_CLICK = 0.12;
/** A click becomes a purchase with this probability (in a favourite category), else BUY_OTHER. */
export const BUY_TASTE = 0.35;
export const BUY_OTHER = 0.1;
/** Views each reader posts before the campaign, in their favourite categories (their profile's history). */
export const HISTORY_VIEWS = 4;

export function tasteShare(categories: readonly (string | undefined)[], tastes: readonly string[]): number {
  if (categories.length === 0) return 0;
  const liked = new Set(tastes);
  return categories.filter((c) => c !== undefined && liked.has(c)).length / categories.length;
}

export function clickProbability(categories: readonly (string | undefined)[], tastes: readonly string[]): number {
  return BASE_CLICK + TASTE_CLICK * tasteShare(categories, tastes);
}

export function buyProbability(category: string | undefined, tastes: readonly string[]): number {
  return category !== undefined && tastes.includes(category) ? BUY_TASTE : BUY_OTHER;
}

/**
 * Which shown item a clicking reader clicks: the first to their taste, else the first. (Readers scan from the
 * top and stop at what they like.)
 */
export function clickedIndex(categories: readonly (string | undefined)[], tastes: readonly string[]): number {
  const liked = categories.findIndex((c) => c !== undefined && tastes.includes(c));
  return liked === -1 ? 0 : liked;
}
