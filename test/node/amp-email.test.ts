/** The recommendations email: its AMP part validates as AMP4EMAIL (official validator, offline). */

import Mustache from "mustache";
import { beforeAll, describe, expect, it } from "vitest";
import { type Block, countdownItem, parseCampaign, staticItem } from "../../core/campaign";
import type { CatalogItem } from "../../core/catalog";
import { emailLinks } from "../../core/email-template";
import { AMP_BASE_PLACEHOLDER, ampBase, demoEmail } from "../../scripts/demo/demo-email";
import { gmailLint, validateAmpEmail, validatorEnginePath } from "../../scripts/email/amp-validator";
import { renderTemplate } from "../../scripts/email/render-email";
import { ampListBody } from "../../worker/campaigns/amp-list-body";
import { toAmpItem } from "../../worker/recs/amp-items";

const TOKEN = "eyJ1IjoiYSJ9.sig";
const ITEM: CatalogItem = {
  id: "p1",
  title: "Lamp",
  category: "home",
  price: 20,
  currency: "GBP",
  image: "/img/p1.png",
  url: "/p/p1",
};
const input = {
  headline: "Picked for you",
  count: 6,
  shopUrl: "https://shop.example/",
  shopName: "Shop & Co <3",
  ...emailLinks({ baseUrl: "https://opentime.example.com/", token: TOKEN, layout: "row" }),
};

describe("recommendations email", () => {
  beforeAll(() => {
    validatorEnginePath();
  }, 300_000);

  it("AMP part validates as AMP4EMAIL and passes Gmail's extra rules", async () => {
    const { amp } = await renderTemplate(input);
    const res = await validateAmpEmail(amp);
    expect(res.errors).toEqual([]);
    expect(res.status).toBe("PASS");
    expect(gmailLint(amp)).toEqual([]);
    expect(amp).toContain(`src="https://opentime.example.com/v1/amp/recs?t=${TOKEN}&amp;n=6"`);
    expect(amp).toContain("{{title}}");
    expect(amp).toContain(`action-xhr="https://opentime.example.com/v1/amp/preferences?t=${TOKEN}"`);
  });

  it("the email npm start writes: its AMP part validates as written (https), the other parts point at the local Worker", async () => {
    const email = await demoEmail({
      localBase: "http://127.0.0.1:8787",
      ampBase: ampBase(undefined).base,
      token: TOKEN,
    });
    const res = await validateAmpEmail(email.amp);
    expect(res.errors).toEqual([]);
    expect(res.status).toBe("PASS");
    expect(email.amp).toContain(`src="${AMP_BASE_PLACEHOLDER}/v1/amp/recs?t=${TOKEN}&amp;n=6"`);
    expect(email.html).toContain("http://127.0.0.1:8787/v1/img/");
    expect(ampBase("https://abc.trycloudflare.com/x")).toEqual({ base: "https://abc.trycloudflare.com", note: null });
    expect(ampBase("http://127.0.0.1:8787").base).toBe(AMP_BASE_PLACEHOLDER);
    // the local http base would not validate: the reason the AMP part gets its own
    const local = await demoEmail({
      localBase: "http://127.0.0.1:8787",
      ampBase: "http://127.0.0.1:8787",
      token: TOKEN,
    });
    expect((await validateAmpEmail(local.amp)).status).toBe("FAIL");
  });

  it("Gmail's own rules catch what the validator passes, however it is written", () => {
    const lint = (body: string) => gmailLint(`<!doctype html><html ⚡4email><body>${body}</body></html>`);
    // AMP's actions as AMP documents them, without parentheses, and with them
    for (const body of [
      '<button on="tap:AMP.print">P</button>',
      '<button on="tap:AMP.goBack">B</button>',
      "AMP.navigateTo(url='x')",
    ])
      expect(lint(body), body).toContain("AMP.navigateTo/print/goBack are forbidden by Gmail");
    // mustache reads a set-delimiter tag with spaces after its braces as one
    for (const body of ["{{=<% %>=}}", "{{ =<% %>= }}"])
      expect(lint(body), body).toContain("mustache set-delimiter tags are forbidden by Gmail");
    expect(lint("<p>{{title}} AMP.setState</p>")).toEqual([]);
  });

  it("the validator really rejects what AMP4EMAIL forbids (control)", async () => {
    const { amp } = await renderTemplate({ ...input, recsUrl: "http://insecure.example/recs" });
    const broken = amp.replace("</body>", '<img src="https://x.example/a.png"></body>');
    const res = await validateAmpEmail(broken);
    expect(res.status).toBe("FAIL");
    expect(res.errors.map((e) => e.code)).toContain("DISALLOWED_TAG");
  });

  it("HTML part: open-time images (retina, shown at 1x) each linked to its own click URL; text part links them", async () => {
    const { html, text } = await renderTemplate(input);
    for (const i of [0, 1, 2]) {
      expect(html).toMatch(
        new RegExp(
          `<a href="https://opentime\\.example\\.com/v1/c/${TOKEN}/row-${i}" style="display:block;[^"]*"><img src="https://opentime\\.example\\.com/v1/img/${TOKEN}/row-${i}@2x\\.png" width="200" height="300" alt="Recommended for you: pick ${i + 1} of 3" style="display:block;border:0;[^"]*"></a>`,
        ),
      );
      expect(text).toContain(`- https://opentime.example.com/v1/c/${TOKEN}/row-${i}`);
    }
    expect(html).toContain("Shop &amp; Co &lt;3");
    expect(text).toContain("Shop & Co <3");
  });

  it("the grid layout is two rows of two", async () => {
    const { html } = await renderTemplate({
      ...input,
      ...emailLinks({ baseUrl: "https://o.example", token: TOKEN, layout: "grid" }),
    });
    // Outlook's table: two rows of two cells (other clients wrap the inline-blocks, two to a 640px line)
    expect(html.match(/<!--\[if mso\]><tr><!\[endif\]-->\s*<!--\[if mso\]><td width="300"/g)?.length).toBe(2);
    expect(html.match(/grid-\d@2x\.png/g)).toEqual([
      "grid-0@2x.png",
      "grid-1@2x.png",
      "grid-2@2x.png",
      "grid-3@2x.png",
    ]);
  });

  it("the AMP part as a reader sees it validates with every block type's answer (copy, badges and all)", async () => {
    const { amp } = await renderTemplate(input);
    const base = "https://opentime.example.com";
    const product: CatalogItem = {
      id: "p000417",
      title: 'Mug "Coastal" & <Co>',
      category: "Mugs",
      price: 10.02,
      currency: "GBP",
      image: "https://cdn.shop.example/p000417.png?w={width}&h={height}",
      url: "https://shop.example/p/p000417",
    };
    const copy = {
      headline: "For you & yours: {{item.title}}",
      subline: "From {{item.price}}",
      cta: "Get it",
      badge: "{{item.category}}",
    };
    const deadline = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const blocks: [Block, CatalogItem[]][] = [
      [{ id: "picks", type: "recommendations", copy }, [product, { ...product, id: "p2", image: "/demo/img/p2.png" }]],
      [
        {
          id: "sale",
          type: "static",
          title: "Sale",
          image: "/demo/img/banner.png",
          url: "https://shop.example/sale",
          copy,
        },
        [],
      ],
      [{ id: "deal", type: "product", item: "p000417", copy }, [product]],
      [
        {
          id: "xmas",
          type: "countdown",
          deadline,
          title: "Ends in",
          url: "https://shop.example/sale",
          ended: { title: "Over" },
          copy: { headline: "Only {{timeLeft}} left" },
        },
        [],
      ],
    ];
    const list = /<amp-list\b[^>]*>[\s\S]*?<template type="amp-mustache">([\s\S]*?)<\/template>\s*<\/amp-list>/;
    const template = list.exec(amp)?.[1] as string;
    expect(template).toContain("{{#copy}}");
    const campaign = parseCampaign({ v: 2, default: { id: "picks", type: "recommendations" } }, true);
    if (!campaign.success) throw campaign.error;
    for (const [block, items] of blocks) {
      const shown =
        block.type === "static"
          ? [staticItem(block)]
          : block.type === "countdown"
            ? [countdownItem(block, Date.now())]
            : items;
      // the route's own answer for the block (worker/campaigns/amp-list-body.ts)
      const body = ampListBody(campaign.data, "spring", block, shown, base, undefined, Date.now());
      // what amp-mustache makes of the answer, where the amp-list was
      const html = Mustache.render(template, body);
      const page = amp
        .replace(list, `<div class="recs">${html}</div>`)
        .replace(/<script async custom-element="amp-list"[^>]*><\/script>/, "");
      const res = await validateAmpEmail(page);
      expect(res.errors, block.type).toEqual([]);
      expect(res.status).toBe("PASS");
      // each link carries the campaign's UTM parameters, as the images' clicks do (its slot: `amp`)
      for (const it of body.items)
        if (it.url)
          expect(new URL(it.url).search, block.type).toContain(
            "utm_source=opentime&utm_medium=email&utm_campaign=spring&utm_content=amp",
          );
      if (block.type !== "countdown") expect(html).toContain("For you &amp; yours");
      else expect(html).toMatch(/Only \d+d \d\d:\d\d:\d\d left/);
    }
    // control: an answer with an http picture (no PUBLIC_BASE_URL behind a local origin) does not validate
    const insecure = Mustache.render(template, {
      items: [{ ...toAmpItem(product, "http://127.0.0.1:8787"), image: "http://127.0.0.1:8787/demo/img/p.png" }],
    });
    const bad = amp
      .replace(list, `<div class="recs">${insecure}</div>`)
      .replace(/<script async custom-element="amp-list"[^>]*><\/script>/, "");
    expect((await validateAmpEmail(bad)).status).toBe("FAIL");
  });

  it("an answer with no items (nothing in KV, or past every fallback) shows the way to the shop, not an empty box", async () => {
    const { amp } = await renderTemplate(input);
    const list = /<amp-list\b[^>]*>[\s\S]*?<template type="amp-mustache">([\s\S]*?)<\/template>\s*<\/amp-list>/;
    const template = list.exec(amp)?.[1] as string;
    // amp-list shows its <div fallback> only when the fetch fails: a 200 {"items":[]} renders the template
    const html = Mustache.render(template, { items: [] });
    expect(html).toContain('<a class="fallback-link" href="https://shop.example/">Visit the shop</a>');
    const page = amp
      .replace(list, `<div class="recs">${html}</div>`)
      .replace(/<script async custom-element="amp-list"[^>]*><\/script>/, "");
    expect((await validateAmpEmail(page)).errors).toEqual([]);
    // with items, no such line
    const shown = Mustache.render(template, { items: [toAmpItem(ITEM, "https://o.example")] });
    expect(shown).toContain("Lamp");
    expect(shown).not.toContain("Visit the shop");
  });

  it("the preferences form's error says what to do, also when the answer is not ours (Gmail's proxy, a network error)", async () => {
    const { amp } = await renderTemplate(input);
    const template = /<div submit-error><template type="amp-mustache">([\s\S]*?)<\/template><\/div>/.exec(amp)?.[1];
    expect(template).toBeDefined();
    const ours = Mustache.render(template as string, {
      error: { code: "TOKEN_INVALID", message: "this link has expired" },
    });
    expect(ours).toBe("Sorry, that did not work: this link has expired");
    // a 400 from Gmail's proxy, or a CORS or network failure: no body of ours to render
    for (const other of [{}, { message: "Bad Request" }]) {
      const shown = Mustache.render(template as string, other);
      expect(shown).not.toMatch(/:\s*$/);
      expect(shown).toContain("please try again");
    }
  });

  it("a card's picture fills its square box cropped (as the open-time images do), not stretched: catalog photos are rarely square", async () => {
    const { amp } = await renderTemplate(input);
    // amp-img draws its <img> at the box's size with object-fit's default, fill: a 4:5 photo comes out squashed
    expect(amp).toMatch(/<amp-img [^>]*layout="responsive"/);
    const css = /<style amp-custom>([\s\S]*?)<\/style>/.exec(amp)?.[1] ?? "";
    expect(css).toMatch(/\.card amp-img img\s*\{\s*object-fit:\s*cover;/);
    expect((await validateAmpEmail(amp)).errors).toEqual([]);
  });

  it("an amp-list item's picture is https only: an http catalog picture is left out, and the card renders without it", async () => {
    const base = "https://opentime.example";
    expect(toAmpItem({ ...ITEM, image: "http://cdn.shop.example/p1.jpg" }, base).image).toBe("");
    expect(toAmpItem({ ...ITEM, image: "HTTP://cdn.shop.example/p1.jpg" }, base).image).toBe("");
    expect(toAmpItem({ ...ITEM, image: "https://cdn.shop.example/p1.jpg" }, base).image).toBe(
      "https://cdn.shop.example/p1.jpg",
    );
    expect(toAmpItem(ITEM, base).image).toBe("https://opentime.example/img/p1.png");
    // local development (the preview page's static view of the AMP part): the Worker on this machine over http
    expect(toAmpItem(ITEM, "http://127.0.0.1:8787").image).toBe("http://127.0.0.1:8787/img/p1.png");
    expect(toAmpItem(ITEM, "http://192.0.2.7").image).toBe("");
    // the card without a picture: the template's {{#image}} leaves amp-img out; still valid AMP4EMAIL
    const { amp } = await renderTemplate(input);
    const list = /<amp-list\b[^>]*>[\s\S]*?<template type="amp-mustache">([\s\S]*?)<\/template>\s*<\/amp-list>/;
    const template = list.exec(amp)?.[1] as string;
    const campaign = parseCampaign({ v: 2, default: { id: "picks", type: "recommendations" } }, true);
    if (!campaign.success) throw campaign.error;
    const items = [
      { ...ITEM, image: "http://cdn.shop.example/p1.jpg" },
      { ...ITEM, id: "p2", title: "Rug", image: "https://cdn.shop.example/p2.jpg" },
    ];
    const html = Mustache.render(
      template,
      ampListBody(campaign.data, "spring", campaign.data.default, items, base, undefined, Date.now()),
    );
    expect(html).toContain("Lamp");
    expect(html).toContain("£20.00");
    expect(html).not.toContain("http://cdn.shop.example");
    expect(html.match(/<amp-img /g)).toHaveLength(1);
    const page = amp
      .replace(list, `<div class="recs">${html}</div>`)
      .replace(/<script async custom-element="amp-list"[^>]*><\/script>/, "");
    const res = await validateAmpEmail(page);
    expect(res.errors).toEqual([]);
    expect(res.status).toBe("PASS");
  });

  it("an amp-list item links only to http(s): a javascript: URL in catalog data is dropped", () => {
    const item = { id: "p1", title: "Lamp", category: "home", price: 20, currency: "GBP", image: "/img/p1.png" };
    const base = "https://opentime.example";
    expect(toAmpItem({ ...item, url: "/p/p1" }, base).url).toBe("https://opentime.example/p/p1");
    expect(toAmpItem({ ...item, url: "https://shop.example/p1" }, base).url).toBe("https://shop.example/p1");
    expect(toAmpItem({ ...item, url: "javascript:alert(1)" }, base).url).toBe("");
    expect(toAmpItem({ ...item, url: "data:text/html,x", image: "javascript:x" }, base)).toMatchObject({
      url: "",
      image: "",
    });
  });
});
