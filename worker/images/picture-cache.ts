/**
 * Product pictures for open-time images: fetched once, then served from the isolate's memory and the
 * Cache API (a day). Pictures on this Worker's own origin (the demo shop) are requested in-process.
 * A picture host is not trusted: the whole load (fetch, cache, body) has one deadline, the body is read as
 * a stream and cancelled past MAX_PICTURE_BYTES whether or not it declares a `Content-Length`, SVG is not
 * asked for nor taken, and the bytes must be a PNG, JPEG or GIF within the pixel limit before they are
 * kept (`picture-format.ts`). Anything unusable yields a failure with its reason: the card then draws its
 * neutral placeholder, and the failure is remembered for a minute so a dead host is not hammered (as is a
 * picture that failed to decode, `forgetPicture`).
 */
import { webUrl } from "../../core/web-url";
import type { Bindings } from "../env";
import { ByteLru } from "../lib/byte-lru";
import { readCapped, until } from "../lib/read-capped";
import { selfFetch } from "../lib/self-fetch";
import { imageCaches } from "./image-memory";
import { pictureFormat } from "./picture-format";
import { MAX_PICTURE_BYTES } from "./picture-limits";

/** the whole load: connection, headers, body */
export const FETCH_TIMEOUT_MS = 1500;
const CACHE_SECONDS = 86400;
const FAILURE_MS = 60_000;
const MEMORY_BUDGET = 16 * 1024 * 1024;
/** failures remembered at most (oldest forgotten first) */
const MAX_FAILURES = 1000;
const USABLE = /^image\/(png|jpeg|gif)\b/i;
const ACCEPT = "image/png, image/jpeg, image/gif;q=0.8";
/** The only pictures this Worker serves itself (the demo shop's, worker/routes/demo-picture.ts). */
const OWN_PICTURES = "/demo/img/";

export interface Picture {
  /** PNG, JPEG or GIF bytes, their headers checked */
  bytes: Uint8Array;
}
/** Why there is no picture (the image's `X-Opentime-Render`). */
export type PictureFailure =
  | "picture-bad-url"
  | "picture-recent-failure"
  | "picture-no-self"
  | `picture-status-${number}`
  | "picture-not-an-image"
  | "picture-too-large"
  | "picture-empty"
  | "picture-refused"
  | "picture-timeout"
  | "picture-fetch-error";
export type PictureResult =
  | ({ ok: true; source: "memory" | "cache" | "origin" } & Picture)
  | { ok: false; reason: PictureFailure };

const memory = new ByteLru<Picture>(MEMORY_BUDGET, (p) => p.bytes.byteLength, imageCaches);
const failures = new Map<string, number>();
/** Cache API writes under way, so that forgetting a picture deletes it after it was written */
const writing = new Map<string, Promise<unknown>>();

function rememberFailure(url: string): void {
  failures.delete(url);
  failures.set(url, Date.now());
  if (failures.size > MAX_FAILURES) failures.delete(failures.keys().next().value as string);
}

export function resetPictureCache(): void {
  memory.clear();
  failures.clear();
}

async function readImage(res: Response, signal: AbortSignal): Promise<PictureResult> {
  const refuse = (reason: PictureFailure): PictureResult => {
    res.body?.cancel().catch(() => undefined);
    return { ok: false, reason };
  };
  if (!res.ok) return refuse(`picture-status-${res.status}`);
  if (!USABLE.test(res.headers.get("Content-Type") ?? "")) return refuse("picture-not-an-image");
  if (Number(res.headers.get("Content-Length") ?? "0") > MAX_PICTURE_BYTES) return refuse("picture-too-large");
  if (!res.body) return { ok: false, reason: "picture-empty" };
  const bytes = await readCapped(res.body, MAX_PICTURE_BYTES, signal);
  if (!bytes) return { ok: false, reason: "picture-too-large" };
  if (bytes.byteLength === 0) return { ok: false, reason: "picture-empty" };
  try {
    pictureFormat(bytes);
  } catch {
    return { ok: false, reason: "picture-refused" };
  }
  return { ok: true, bytes, source: "origin" };
}

export interface PictureContext {
  env: Bindings;
  /** the origin this request came to: pictures there are requested in-process */
  origin: string;
  waitUntil: (p: Promise<unknown>) => void;
}

/** The URL a picture is kept under, or null when it may not be fetched (core/web-url.ts). */
function pictureKey(rawUrl: string, origin: string): URL | null {
  return webUrl(rawUrl, origin);
}

async function fetchPicture(url: URL, ctx: PictureContext, signal: AbortSignal): Promise<PictureResult> {
  const key = url.toString();
  if (url.origin === ctx.origin) {
    // only the demo shop's pictures: any other route of this Worker (an open-time image whose picture is one,
    // say) would render a card that fetches its own picture again, request within request
    if (!url.pathname.startsWith(OWN_PICTURES)) return { ok: false, reason: "picture-bad-url" };
    // no signal on the in-process request (workerd fails internally when it fires after the response):
    // `until` bounds the wait all the same
    const local = selfFetch(new Request(key), ctx.env);
    return local ? readImage(await until(local, signal), signal) : { ok: false, reason: "picture-no-self" };
  }
  const cache = (caches as unknown as { default: Cache }).default;
  const cached = await until(cache.match(key), signal);
  if (cached) {
    const result = await readImage(cached, signal);
    return result.ok ? { ...result, source: "cache" } : result;
  }
  const res = await until(
    fetch(key, {
      // image CDNs negotiate by Accept: formats we decode, never WebP/AVIF (nor SVG)
      headers: { Accept: ACCEPT },
      signal,
      redirect: "follow",
    }),
    signal,
  );
  const result = await readImage(res, signal);
  if (result.ok) {
    const copy = new Response(result.bytes, {
      headers: {
        "Content-Type": res.headers.get("Content-Type") ?? "application/octet-stream",
        "Cache-Control": `public, max-age=${CACHE_SECONDS}`,
      },
    });
    const put = cache
      .put(key, copy)
      .catch(() => undefined)
      .finally(() => writing.delete(key));
    writing.set(key, put);
    ctx.waitUntil(put);
  }
  return result;
}

export async function loadPicture(rawUrl: string, ctx: PictureContext): Promise<PictureResult> {
  const url = pictureKey(rawUrl, ctx.origin);
  if (!url) return { ok: false, reason: "picture-bad-url" };
  const key = url.toString();
  const failedAt = failures.get(key);
  if (failedAt !== undefined && Date.now() - failedAt < FAILURE_MS)
    return { ok: false, reason: "picture-recent-failure" };
  const hit = memory.get(key);
  if (hit) return { ok: true, ...hit, source: "memory" };

  let result: PictureResult;
  try {
    result = await fetchPicture(url, ctx, AbortSignal.timeout(FETCH_TIMEOUT_MS));
  } catch (e) {
    const timeout = (e as { name?: unknown } | null)?.name === "TimeoutError";
    result = { ok: false, reason: timeout ? "picture-timeout" : "picture-fetch-error" };
  }
  if (result.ok) {
    memory.set(key, { bytes: result.bytes });
    failures.delete(key);
  } else {
    rememberFailure(key);
  }
  return result;
}

/**
 * A picture that loaded but could not be decoded (a decompression bomb, corrupt data): remembered as a
 * failure for a minute, as a dead host is, and dropped from the Cache API, so it is not decoded again on
 * every open.
 */
export function forgetPicture(rawUrl: string, ctx: PictureContext): void {
  const url = pictureKey(rawUrl, ctx.origin);
  if (!url) return;
  rememberFailure(url.toString());
  memory.delete(url.toString());
  const cache = (caches as unknown as { default: Cache }).default;
  const key = url.toString();
  if (url.origin !== ctx.origin)
    ctx.waitUntil((writing.get(key) ?? Promise.resolve()).then(() => cache.delete(key)).catch(() => undefined));
}
