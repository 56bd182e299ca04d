/**
 * Product pictures for open-time images: fetched once, then served from the isolate's memory and the
 * Cache API (a day). Pictures on this Worker's own origin (the demo shop) are requested in-process.
 * Anything unusable (timeout, error status, not an image, too large) yields a failure with its reason:
 * the card then draws its neutral placeholder, and the failure is remembered for a minute so a dead host
 * is not hammered.
 */
import type { Bindings } from "../env";
import { ByteLru } from "../lib/byte-lru";
import { selfFetch } from "../lib/self-fetch";

export const MAX_PICTURE_BYTES = 3 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 1500;
const CACHE_SECONDS = 86400;
const FAILURE_MS = 60_000;
const MEMORY_BUDGET = 16 * 1024 * 1024;
/** failures remembered at most (oldest forgotten first) */
const MAX_FAILURES = 1000;
const USABLE = /^image\/(png|jpeg|gif|svg\+xml)\b/i;
const ACCEPT = "image/png, image/jpeg, image/gif;q=0.8, image/svg+xml;q=0.7";

export interface Picture {
  bytes: Uint8Array;
  /** SVG pictures are embedded as data URIs; PNG, JPEG and GIF are handed to resvg as bytes */
  svg: boolean;
}
export type PictureResult =
  | ({ ok: true; source: "memory" | "cache" | "origin" } & Picture)
  | { ok: false; reason: string };

const memory = new ByteLru<Picture>(MEMORY_BUDGET, (p) => p.bytes.byteLength);
const failures = new Map<string, number>();

function rememberFailure(url: string): void {
  failures.delete(url);
  failures.set(url, Date.now());
  if (failures.size > MAX_FAILURES) failures.delete(failures.keys().next().value as string);
}

export function resetPictureCache(): void {
  memory.clear();
  failures.clear();
}

async function readImage(res: Response): Promise<PictureResult> {
  if (!res.ok) return { ok: false, reason: `picture-status-${res.status}` };
  const type = res.headers.get("Content-Type") ?? "";
  if (!USABLE.test(type)) return { ok: false, reason: "picture-not-an-image" };
  const declared = Number(res.headers.get("Content-Length") ?? "0");
  if (declared > MAX_PICTURE_BYTES) return { ok: false, reason: "picture-too-large" };
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.byteLength === 0) return { ok: false, reason: "picture-empty" };
  if (bytes.byteLength > MAX_PICTURE_BYTES) return { ok: false, reason: "picture-too-large" };
  return { ok: true, bytes, svg: /svg/i.test(type), source: "origin" };
}

export interface PictureContext {
  env: Bindings;
  /** the origin this request came to: pictures there are requested in-process */
  origin: string;
  waitUntil: (p: Promise<unknown>) => void;
}

export async function loadPicture(rawUrl: string, ctx: PictureContext): Promise<PictureResult> {
  let url: URL;
  try {
    url = new URL(rawUrl, ctx.origin);
  } catch {
    return { ok: false, reason: "picture-bad-url" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, reason: "picture-bad-url" };
  const key = url.toString();
  const hit = memory.get(key);
  if (hit) return { ok: true, ...hit, source: "memory" };
  const failedAt = failures.get(key);
  if (failedAt !== undefined && Date.now() - failedAt < FAILURE_MS)
    return { ok: false, reason: "picture-recent-failure" };

  let result: PictureResult;
  try {
    if (url.origin === ctx.origin) {
      const local = selfFetch(new Request(key), ctx.env);
      result = local ? await readImage(await local) : { ok: false, reason: "picture-no-self" };
    } else {
      const cache = (caches as unknown as { default: Cache }).default;
      const cached = await cache.match(key);
      if (cached) {
        result = await readImage(cached);
        if (result.ok) result = { ...result, source: "cache" };
      } else {
        const res = await fetch(key, {
          // image CDNs negotiate by Accept: formats resvg and our PNG decoder read, never WebP/AVIF
          headers: { Accept: ACCEPT },
          signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
          redirect: "follow",
        });
        result = await readImage(res);
        if (result.ok) {
          const copy = new Response(result.bytes, {
            headers: {
              "Content-Type": res.headers.get("Content-Type") ?? "application/octet-stream",
              "Cache-Control": `public, max-age=${CACHE_SECONDS}`,
            },
          });
          ctx.waitUntil(cache.put(key, copy).catch(() => undefined));
        }
      }
    }
  } catch (e) {
    result = {
      ok: false,
      reason: e instanceof Error && e.name === "TimeoutError" ? "picture-timeout" : "picture-fetch-error",
    };
  }
  if (result.ok) {
    memory.set(key, { bytes: result.bytes, svg: result.svg });
    failures.delete(key);
  } else {
    rememberFailure(key);
  }
  return result;
}
