/**
 * The isolate's memory for open-time images: one byte budget the image caches share (drawn cards, fetched
 * pictures, countdown stills and GIFs), each within its own budget too; past it the least recently used entry of
 * any of them goes first. An isolate has 128 MB. Serving a 100k-item model after its image runs (3,920 requests: first
 * opens and re-opens of six slot sizes, and 400 whole blocks), `npm run bench` measured (2026-12-06) heap 46.5 MiB and ORT's wasm 31.7 MiB beside the caches' ArrayBuffers, resvg's and the JPEG
 * decoder's wasm memory on top: the caches' own budgets (56 MB together; 43.9 MiB of ArrayBuffers when full
 * without countdowns) left too little, so together they keep to 16 MiB, and a drawing's decodes have the rest.
 */
import { BytePool } from "../lib/byte-lru";

export const IMAGE_CACHE_BYTES = 16 * 1024 * 1024;

export const imageCaches = new BytePool(IMAGE_CACHE_BYTES);
