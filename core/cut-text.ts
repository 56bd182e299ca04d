/**
 * Cutting text from outside (keys, names, copy) to a length in UTF-16 units without splitting a surrogate pair:
 * half an emoji left at the end has no UTF-8 form, and makes `encodeURIComponent` throw.
 */

/** `s` cut to at most `max` UTF-16 units, a pair's first half dropped when the cut would leave it alone. */
export function cutWhole(s: string, max: number): string {
  if (s.length <= max) return s;
  const head = s.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head;
}
