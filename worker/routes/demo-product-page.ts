/**
 * GET /demo/p/<id> (DEMO_ROUTES only: worker/demo/demo-shop.ts) — a minimal product page of the demo shop, where
 * the demo emails' clicks land: the picture, title, category and price, the product's id in `data-product-id`.
 */
import type { Hono } from "hono";
import { escapeXml } from "../../core/escape-xml";
import { findItem } from "../demo/demo-shop";
import type { AppEnv } from "../env";
import { formatPrice } from "../recs/amp-items";

export function registerDemoProductPage(app: Hono<AppEnv>): void {
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
