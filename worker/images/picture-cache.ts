/**
 * Product pictures for open-time images: fetched once, then served from the isolate's memory and the
 * Cache API (a day). Pictures on this Worker's own host (the demo shop's, and nothing else there) are requested
 * in-process. Redirects are followed here, at most MAX_REDIRECTS of them, each Location checked as the catalog's
 * URL was (`reach`): a picture host cannot send the Worker to its own clicks, events or open-time images.
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
/**
 * What a picture host may call a picture: the bytes tell its format (picture-format.ts), so any image type but SVG
 * (`image/jpg` and `image/pjpeg` are common), an octet stream (S3's default for an upload without a type) or none at
 * all; a page, JSON or SVG is no picture of ours.
 */
const USABLE = /^(?:image\/(?!svg)[\w.+-]+|application\/octet-stream|binary\/octet-stream)\s*(?:;|$)/i;
const ACCEPT = "image/png, image/jpeg, image/gif;q=0.8";
/** The only pictures this Worker serves itself (the demo shop's, worker/routes/demo-picture.ts). */
const OWN_PICTURES = "/demo/img/";
/**
 * Redirects followed before a picture, at most. An image CDN redirects once or twice (http to https, then to a
 * canonical or signed URL); a longer chain is a misconfigured or hostile host, and every hop is another
 * subrequest (counted against the Worker's per-request limit) inside the same FETCH_TIMEOUT_MS deadline.
 */
export const MAX_REDIRECTS = 3;
/** The statuses fetch follows (any other 3xx is an answer, not a picture) */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

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
  | "picture-bad-redirect"
  | "picture-too-many-redirects"
  | "picture-timeout"
  | "picture-fetch-error";
export type PictureResult =
  | ({ ok: true; source: "memory" | "cache" | "origin" } & Picture)
  | { ok: false; reason: PictureFailure };

/**
 * How long the isolate keeps a picture in memory (the Cache API then, for the rest of its day): a picture replaced
 * at its URL shows within the Cache API's day and this hour, however long the isolate lives.
 */
export const MEMORY_MAX_AGE_MS = 3_600_000;
const memory = new ByteLru<Picture>(MEMORY_BUDGET, (p) => p.bytes.byteLength, imageCaches, MEMORY_MAX_AGE_MS);
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
  const type = res.headers.get("Content-Type");
  if (type !== null && type.trim() !== "" && !USABLE.test(type.trim())) return refuse("picture-not-an-image");
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

/**
 * Whether `url` (through webUrl) is on this Worker's host, whatever its scheme: `http://` to the Worker's host
 * reaches the Worker as surely as `https://` does.
 */
function isOwnHost(url: URL, origin: string): boolean {
  return url.host === new URL(origin).host;
}

/**
 * How a picture URL (through webUrl) may be requested: in-process (the demo shop's pictures, on this Worker's
 * host), from outside (any other host), or not at all (any other route of this Worker: an open-time image whose
 * picture is one would render a card that fetches its own picture again, request within request; a click or the
 * pixel would record one). Applied to the catalog's URL and to every redirect's Location alike.
 */
function reach(url: URL, origin: string): "self" | "outside" | null {
  if (!isOwnHost(url, origin)) return "outside";
  return url.pathname.startsWith(OWN_PICTURES) ? "self" : null;
}

/** The demo shop's picture at `url`, requested in-process. */
async function ownPicture(url: URL, ctx: PictureContext, signal: AbortSignal): Promise<Response | PictureFailure> {
  // no signal on the in-process request (workerd fails internally when it fires after the response):
  // `until` bounds the wait all the same
  const local = selfFetch(new Request(url.toString()), ctx.env);
  return local ? until(local, signal) : "picture-no-self";
}

/**
 * The response for an outside picture, its redirects followed here rather than by fetch (`redirect: "manual"`):
 * each Location, resolved against the URL that answered it, must pass webUrl and `reach` as the catalog's URL did,
 * and leads to the demo shop's pictures in-process or to another outside request, MAX_REDIRECTS hops at most,
 * all within `signal`'s deadline. A redirect without a Location, with one that does not parse or that is
 * refused, or one too many is a failure, never an exception.
 */
async function fetchOutside(first: URL, ctx: PictureContext, signal: AbortSignal): Promise<Response | PictureFailure> {
  let url = first;
  for (let hops = 0; ; hops++) {
    const res = await until(
      fetch(url.toString(), {
        // image CDNs negotiate by Accept: formats we decode, never WebP/AVIF (nor SVG)
        headers: { Accept: ACCEPT },
        signal,
        redirect: "manual",
      }),
      signal,
    );
    if (!REDIRECTS.has(res.status)) return res;
    res.body?.cancel().catch(() => undefined);
    if (hops === MAX_REDIRECTS) return "picture-too-many-redirects";
    const location = res.headers.get("Location");
    const next = location === null ? null : webUrl(location, url.toString());
    const via = next && reach(next, ctx.origin);
    if (!next || !via) return "picture-bad-redirect";
    if (via === "self") return ownPicture(next, ctx, signal);
    url = next;
  }
}

async function fetchPicture(url: URL, ctx: PictureContext, signal: AbortSignal): Promise<PictureResult> {
  const key = url.toString();
  const via = reach(url, ctx.origin);
  if (!via) return { ok: false, reason: "picture-bad-url" };
  if (via === "self") {
    const local = await ownPicture(url, ctx, signal);
    return typeof local === "string" ? { ok: false, reason: local } : readImage(local, signal);
  }
  const cache = (caches as unknown as { default: Cache }).default;
  const cached = await until(cache.match(key), signal);
  if (cached) {
    const result = await readImage(cached, signal);
    return result.ok ? { ...result, source: "cache" } : result;
  }
  // kept under the catalog's URL, wherever its redirects led
  const res = await fetchOutside(url, ctx, signal);
  if (typeof res === "string") return { ok: false, reason: res };
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
  if (!isOwnHost(url, ctx.origin))
    ctx.waitUntil((writing.get(key) ?? Promise.resolve()).then(() => cache.delete(key)).catch(() => undefined));
}
