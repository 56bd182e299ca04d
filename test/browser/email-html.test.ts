/**
 * The HTML part as mail clients lay it out, in headless Chromium (no Worker: the open-time pictures are served by
 * the test, or blocked, as Outlook and many clients do by default): on a phone the slots wrap instead of
 * scrolling sideways, each picture keeps its proportions, with pictures blocked each box keeps its size and
 * says which pick it is, and every line of text carries its own font (Outlook's Word engine does not inherit
 * one into a table: simulated here by resetting the font on every table).
 */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emailLinks } from "../../core/email-template";
import { LAYOUTS, type LayoutName } from "../../core/layouts";
import { renderTemplate } from "../../scripts/email/render-email";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const BASE = "https://opentime.test";
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium or set CHROMIUM_PATH`);
  browser = await chromium.launch({ executablePath: CHROMIUM });
});
afterAll(async () => {
  await browser?.close();
});

async function html(layout: LayoutName): Promise<string> {
  const parts = await renderTemplate({
    headline: "Picked for you",
    preheader: "Three picks for the weekend",
    count: 6,
    shopUrl: "https://shop.example/",
    shopName: "Shop",
    unsubscribeUrl: "https://shop.example/unsubscribe?u=1",
    ...emailLinks({ baseUrl: BASE, token: "tok", layout }),
  });
  return parts.html;
}

/** The email at `width` CSS pixels; the open-time pictures drawn at 2x (as the Worker does), or blocked. */
async function open(layout: LayoutName, width: number, pictures: "shown" | "blocked"): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const { width: w, height: h } = LAYOUTS[layout];
  await page.route(`${BASE}/**`, (route) =>
    pictures === "blocked"
      ? route.abort()
      : route.fulfill({
          contentType: "image/svg+xml",
          body: `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * w}" height="${2 * h}"><rect width="100%" height="100%" fill="#c33"/></svg>`,
        }),
  );
  await page.setContent(await html(layout), { waitUntil: "load" });
  return page;
}

async function boxes(page: Page) {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    images: Array.from(document.images, (i) => {
      const r = i.getBoundingClientRect();
      return { left: r.left, top: r.top, width: r.width, height: r.height, alt: i.alt };
    }),
  }));
}

describe("the HTML part in Chromium", () => {
  for (const layout of ["row", "grid", "card"] as const) {
    const { width: w, height: h, slots } = LAYOUTS[layout];

    it(`${layout}: on a 375px phone nothing scrolls sideways and each picture keeps its proportions`, async () => {
      for (const pictures of ["shown", "blocked"] as const) {
        const page = await open(layout, 375, pictures);
        const got = await boxes(page);
        expect(got.scrollWidth, pictures).toBeLessThanOrEqual(375);
        expect(got.images).toHaveLength(slots);
        for (const img of got.images) {
          expect(img.left, pictures).toBeGreaterThanOrEqual(0);
          expect(img.left + img.width, pictures).toBeLessThanOrEqual(375);
          expect(img.width, pictures).toBeLessThanOrEqual(w);
          expect(Math.abs(img.height - (img.width * h) / w), pictures).toBeLessThanOrEqual(1);
        }
        await page.close();
      }
    });

    it(`${layout}: on a desktop each picture is its full size, a row side by side, the grid two by two`, async () => {
      for (const pictures of ["shown", "blocked"] as const) {
        const page = await open(layout, 800, pictures);
        const got = await boxes(page);
        expect(got.images.map((i) => [i.width, i.height])).toEqual(Array(slots).fill([w, h]));
        const tops = [...new Set(got.images.map((i) => Math.round(i.top)))];
        expect(tops, pictures).toHaveLength(layout === "grid" ? 2 : 1);
        await page.close();
      }
    });
  }

  it("with pictures blocked, each box says which pick it is (a screen reader's name for each link, too)", async () => {
    const page = await open("row", 800, "blocked");
    const names = await page
      .locator("a:has(img)")
      .evaluateAll((links) => links.map((a) => (a.querySelector("img") as HTMLImageElement).alt));
    expect(names).toEqual([
      "Recommended for you: pick 1 of 3",
      "Recommended for you: pick 2 of 3",
      "Recommended for you: pick 3 of 3",
    ]);
    await page.close();
    const card = await open("card", 800, "blocked");
    expect(await card.locator("img").getAttribute("alt")).toBe("Recommended for you");
    await card.close();
  });

  it("every line of text names its font where it is, as Outlook needs (it does not inherit one into a table)", async () => {
    const page = await open("row", 800, "shown");
    await page.addStyleTag({ content: 'table { font-family: "Times New Roman", serif; color: #000000; }' });
    const fonts = await page.evaluate(() => {
      const out: [string, string][] = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = (n.textContent ?? "").trim();
        const el = n.parentElement as HTMLElement;
        if (!text || el.closest("[style*='display:none']")) continue;
        out.push([text, getComputedStyle(el).fontFamily]);
      }
      return out;
    });
    expect(fonts.map(([t]) => t)).toEqual([
      "Picked for you",
      "A few favourites from the shop.",
      "Visit the shop",
      "You receive this email because you subscribed at Shop.",
      "Unsubscribe",
    ]);
    for (const [text, font] of fonts) expect(font, text).toMatch(/^Helvetica/);
    await page.close();
  });
});
