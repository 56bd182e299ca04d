/**
 * GET /demo/img/<id>.png or .svg (DEMO_ROUTES only: worker/demo/demo-shop.ts) — a demo product's picture drawn
 * from the catalog: SVG, or PNG as mail clients show it (`?w=<px>&h=<px>`: cropped to cover the size, as an image
 * CDN would). `&grain=<1-64>` gives a photo-like picture instead (the category's colour with noise, no text: the
 * benchmark's stand-in for real photos, hard to compress), kept in memory per category and size as a CDN would
 * cache it, so that serving it costs what a cache hit costs.
 */
import type { Hono } from "hono";
import { findItem, grainedPicture, pixels, productSvg } from "../demo/demo-shop";
import type { AppEnv } from "../env";
import { encodePng } from "../images/png-encode";
import { renderRaster } from "../images/resvg-runtime";

export function registerDemoPicture(app: Hono<AppEnv>): void {
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
}
