/**
 * Demo shop assets, served only when DEMO_ROUTES=true (`.dev.vars`, local development; 404 in what
 * `wrangler deploy` ships): product pictures drawn from the catalog, as PNG (`/demo/img/<id>.png?w=<px>&h=<px>`,
 * what mail clients show; cropped to cover the size, as an image CDN would) or SVG (`.svg`), and a minimal
 * product page (`/demo/p/<id>`) for click-throughs.
 * `&grain=<1-64>` gives a photo-like picture instead (the category's colour with noise, no text: the
 * benchmark's stand-in for real photos, hard to compress), kept in memory per category and size as a
 * CDN would cache it, so that serving it costs what a cache hit costs.
 */
import type { Context, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import type { CatalogItem } from "../../core/catalog";
import { escapeXml } from "../../core/escape-xml";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { encodePng } from "../images/png-encode";
import { renderRaster } from "../images/resvg-runtime";
import { background } from "../lib/background";
import { ByteLru } from "../lib/byte-lru";
import { itemLookup } from "../model/item-lookup";
import { getModel } from "../model/model-store";
import { formatPrice } from "../recs/amp-items";

const PICTURE_PX = 400;
const MAX_PICTURE_PX = 1200;

function pixels(raw: string | undefined): number {
  const n = Math.round(Number(raw));
  return Number.isFinite(n) && n >= 16 ? Math.min(n, MAX_PICTURE_PX) : PICTURE_PX;
}

const PALETTE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#6d597a", "#355070", "#b56576"];

async function findItem(c: Context<AppEnv>, id: string): Promise<CatalogItem> {
  const config = getConfig(c.env);
  const state = await getModel(c.env.OPENTIME_KV, config.modelRefreshSeconds, Date.now(), background(c).waitUntil);
  const item = itemLookup(state)(id);
  if (!item) throw new ApiError("NOT_FOUND", `no demo product ${id}`);
  return item;
}

function hashColor(s: string): string {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length] as string;
}

/** The demo picture, square by design; a width and height crop it to cover them (centred). */
export function productSvg(item: CatalogItem, width = 600, height = 600): string {
  const bg = hashColor(item.category);
  const initials = item.title
    .split(/\s+/)
    .slice(-2)
    .map((w) => w[0] ?? "")
    .join("")
    .toUpperCase();
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 600 600" preserveAspectRatio="xMidYMid slice">
<rect width="600" height="600" fill="${bg}"/>
<circle cx="300" cy="260" r="150" fill="#ffffff" fill-opacity="0.18"/>
<text x="300" y="300" font-family="Helvetica, Arial, sans-serif" font-size="120" font-weight="700" fill="#ffffff" text-anchor="middle">${escapeXml(initials)}</text>
<text x="300" y="520" font-family="Helvetica, Arial, sans-serif" font-size="34" fill="#ffffff" text-anchor="middle">${escapeXml(item.category)}</text>
</svg>`;
}

/** Deterministic noise of +-amount on each colour sample (an opaque RGBA raster), in place. */
function addGrain(rgba: Uint8Array, amount: number): void {
  if (amount === 0) return;
  let seed = 0x9e3779b9;
  for (let i = 0; i < rgba.length; i++) {
    if ((i & 3) === 3) continue; // alpha
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const v = (rgba[i] as number) + ((seed >>> 24) % (2 * amount + 1)) - amount;
    rgba[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

const grained = new ByteLru<Uint8Array<ArrayBuffer>>(32 * 1024 * 1024, (png) => png.byteLength);

async function grainedPicture(
  item: CatalogItem,
  width: number,
  height: number,
  grain: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = `${item.category}|${width}x${height}|${grain}`;
  const hit = grained.get(key);
  if (hit) return hit;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="${hashColor(item.category)}"/></svg>`;
  const raster = await renderRaster({ svg, width });
  addGrain(raster.data, grain);
  const png = encodePng(raster.data, raster.width, raster.height);
  grained.set(key, png);
  return png;
}

const demoOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (!getConfig(c.env).demoRoutes) throw new ApiError("NOT_FOUND", "demo routes are disabled (DEMO_ROUTES)");
  await next();
});

export function registerDemoAssets(app: Hono<AppEnv>): void {
  app.use("/demo/*", demoOnly);
  app.get("/demo/img/:file", async (c) => {
    const file = c.req.param("file");
    const png = file.endsWith(".png");
    const item = await findItem(c, file.replace(/\.(svg|png)$/, ""));
    const cache = { "Cache-Control": "public, max-age=86400" };
    if (!png) return c.body(productSvg(item), 200, { "Content-Type": "image/svg+xml", ...cache });
    const width = pixels(c.req.query("w"));
    const height = c.req.query("h") === undefined ? width : pixels(c.req.query("h"));
    const grain = Math.min(64, Math.max(0, Math.round(Number(c.req.query("grain") ?? 0) || 0)));
    if (grain > 0)
      return c.body(await grainedPicture(item, width, height, grain), 200, { "Content-Type": "image/png", ...cache });
    const raster = await renderRaster({ svg: productSvg(item, width, height), width });
    return c.body(encodePng(raster.data, raster.width, raster.height), 200, { "Content-Type": "image/png", ...cache });
  });
  app.get("/demo/p/:id", async (c) => {
    const item = await findItem(c, c.req.param("id"));
    const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeXml(item.title)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-family:Helvetica,Arial,sans-serif;max-width:640px;margin:2rem auto;padding:0 1rem">
<img src="/demo/img/${escapeXml(item.id)}.png" alt="" width="320" height="320">
<h1 data-product-id="${escapeXml(item.id)}">${escapeXml(item.title)}</h1>
<p>${escapeXml(item.category)} · ${escapeXml(formatPrice(item.price, item.currency))}</p>
<p><small>opentime demo shop</small></p></body></html>`;
    return c.html(page);
  });
}
