/**
 * The demo shop's pictures and products, served only when DEMO_ROUTES=true (`.dev.vars`, local development; 404
 * in what `wrangler deploy` ships: `demoOnly`): product pictures drawn from the catalog (the SVG, or a photo-like
 * PNG for the benchmark), and the lookup of a demo product. The routes: worker/routes/demo-picture.ts
 * (`/demo/img/<id>.png` or `.svg`) and demo-product-page.ts (`/demo/p/<id>`).
 */
import type { Context } from "hono";
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

const PICTURE_PX = 400;
const MAX_PICTURE_PX = 1200;

/** A size asked in the query, in pixels: 16..MAX_PICTURE_PX, PICTURE_PX when absent or not a number. */
export function pixels(raw: string | undefined): number {
  const n = Math.round(Number(raw));
  return Number.isFinite(n) && n >= 16 ? Math.min(n, MAX_PICTURE_PX) : PICTURE_PX;
}

const PALETTE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#6d597a", "#355070", "#b56576"];

/** The model's catalog item `id`; 404 NOT_FOUND when the served model has none. */
export async function findItem(c: Context<AppEnv>, id: string): Promise<CatalogItem> {
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

/** The photo-like picture (`&grain=`): the category's colour with noise, kept per category, size and grain. */
export async function grainedPicture(
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

/** 404 NOT_FOUND unless DEMO_ROUTES: in front of every /demo/ route (worker/app.ts). */
export const demoOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (!getConfig(c.env).demoRoutes) throw new ApiError("NOT_FOUND", "demo routes are disabled (DEMO_ROUTES)");
  await next();
});
