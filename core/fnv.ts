/**
 * 32-bit FNV-1a over a string's UTF-16 code units: the hash that places readers in shards
 * (worker/state/shard-routing.ts) and in experiment variants (core/experiments/assignment.ts). Changing it would
 * move both, so it never changes. Pure.
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
