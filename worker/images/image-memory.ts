/**
 * The isolate's memory for open-time images: one byte budget the image caches share (drawn cards, fetched
 * pictures, countdown stills and GIFs), each within its own budget too; past it the least recently used entry of
 * any of them goes first. An isolate has 128 MB, and one serving a 100k-item model holds 71-80 MiB with its caches
 * empty (README, Known limits): the caches' own budgets add up to 56 MB, more than is left, so together they keep
 * to 32 MiB, and the decodes of a drawing have the rest.
 */
import { BytePool } from "../lib/byte-lru";

export const IMAGE_CACHE_BYTES = 32 * 1024 * 1024;

export const imageCaches = new BytePool(IMAGE_CACHE_BYTES);
