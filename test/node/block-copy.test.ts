/**
 * Block copy (core/block-copy.ts): which templates a campaign may hold (the item's names and a countdown's time
 * left, never the reader's data; no partials, no delimiter changes), how they render (plain text, one line, cut
 * at each field's limit); where the card draws them (worker/images/card-svg.ts); and the preview's static view
 * of the AMP part, for this repository's template and an older one.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COPY_LIMITS, copyTemplateProblem, renderCopy } from "../../core/block-copy";
import { factsNeeded } from "../../core/block-selection";
import { type Countdown, countdownItem, parseCampaign } from "../../core/campaign";
import { countdownFrames } from "../../core/countdown";
import { fieldPath } from "../../core/field-path";
import { COPY_CAMPAIGN, RULES_CAMPAIGN } from "../../scripts/bench/rules-campaign";
import { DEMO_CAMPAIGNS } from "../../scripts/demo/campaigns";
import { blockCopy } from "../../worker/campaigns/block-copy";
import { cardSvg } from "../../worker/images/card-svg";
import { ampStaticView } from "../../worker/preview/amp-static";

const item = { title: "Blue Ceramic Mug", category: "Kitchen", price: "£12.00" };

describe("copy templates", () => {
  it("accepts the names it documents, in sections too", () => {
    for (const t of [
      "Hello",
      "{{item.title}} for {{item.price}}",
      "{{#item}}{{item.category}}{{/item}}{{^item}}Our picks{{/item}}",
      "{{! a comment }}Only {{timeLeft}} left",
      "{{{item.title}}} {{&item.price}}",
    ]) {
      expect(copyTemplateProblem(t), t).toBeNull();
    }
  });

  it("refuses the reader's data, unknown names, partials, delimiter changes and broken syntax", () => {
    // the reader's facts choose the block (its conditions); they never appear in its words
    for (const fact of ["segment", "propensity", "purchases", "boughtCategories", "country", "topProbability"]) {
      expect(copyTemplateProblem(`Hi {{${fact}}}`)).toMatch(new RegExp(`^unknown variable "${fact}"`));
    }
    expect(copyTemplateProblem("Hi {{firstName}}")).toMatch(/^unknown variable "firstName"/);
    expect(copyTemplateProblem("{{#item}}{{title}}{{/item}}")).toMatch(/^unknown variable "title"/);
    expect(copyTemplateProblem("{{#item}}{{.}}{{/item}}")).toMatch(/^unknown variable "\."/);
    expect(copyTemplateProblem("{{item}}")).toMatch(/^item is a section/);
    expect(copyTemplateProblem("{{> footer}}")).toMatch(/^partials/);
    expect(copyTemplateProblem("{{=<% %>=}}")).toMatch(/^delimiters/);
    expect(copyTemplateProblem("{{#item}}open")).toMatch(/^not a mustache template/);
  });

  it("the demo shop's campaigns (npm start stores them) and the bench's are valid, copy and all", () => {
    for (const [id, raw] of Object.entries({ ...DEMO_CAMPAIGNS, RULES_CAMPAIGN, COPY_CAMPAIGN })) {
      const parsed = parseCampaign(raw, true);
      expect(parsed.success ? null : parsed.error.issues, id).toBeNull();
    }
  });

  it("a campaign with a bad template is refused with the field's path; timeLeft is a countdown's only", () => {
    const parsed = parseCampaign(
      {
        v: 2,
        blocks: [
          { id: "a", type: "recommendations", when: { fetcher: { $eq: "direct" } }, copy: { cta: "{{timeLeft}}" } },
        ],
        default: { id: "d", type: "recommendations", copy: { badge: "{{price}}" } },
      },
      true,
    );
    expect(parsed.success).toBe(false);
    if (!parsed.success) {
      expect(parsed.error.issues.map((i) => [fieldPath(i.path), i.message.slice(0, 26)])).toEqual([
        ["blocks[0].copy.cta", "timeLeft is a countdown bl"],
        ["default.copy.badge", 'unknown variable "price" ('],
      ]);
    }
  });

  it("a stored campaign is read whatever its templates (a later version may refuse them): unknown names render empty", () => {
    const stored = parseCampaign({
      v: 2,
      default: { id: "d", type: "recommendations", copy: { headline: "Hi {{segment}}!" } },
    });
    expect(stored.success).toBe(true);
    if (stored.success) expect(renderCopy(stored.data.default.copy, { item })).toEqual({ headline: "Hi !" });
  });
});

describe("rendering", () => {
  it("fills the item and the time left; an unknown item skips its sections", () => {
    const copy = {
      headline: "{{#item}}New: {{item.title}}{{/item}}{{^item}}Our picks{{/item}}",
      subline: "From {{item.price}} in {{item.category}}",
      cta: "{{#timeLeft}}{{timeLeft}} left{{/timeLeft}}{{^timeLeft}}Ended{{/timeLeft}}",
      badge: "Sale",
    };
    expect(renderCopy(copy, { item, timeLeft: "01:02:03" })).toEqual({
      headline: "New: Blue Ceramic Mug",
      subline: "From £12.00 in Kitchen",
      cta: "01:02:03 left",
      badge: "Sale",
    });
    // no item (the text part: decided at the click), past the deadline; a field that renders empty is left out
    expect(renderCopy({ ...copy, subline: "{{item.title}}" }, { item: null, timeLeft: "" })).toEqual({
      headline: "Our picks",
      cta: "Ended",
      badge: "Sale",
    });
  });

  it("a time left not known (the text part, read later) shows neither the running nor the ended words", () => {
    const copy = {
      headline: "Sale{{#timeLeft}}: {{timeLeft}} left{{/timeLeft}}{{^timeLeft}} ended{{/timeLeft}}",
      subline: "{{^timeLeft}}Ended{{/timeLeft}}",
      cta: "Go {{timeLeft}}{{{timeLeft}}}{{&timeLeft}}",
    };
    expect(renderCopy(copy, { item: null, timeLeft: null })).toEqual({ headline: "Sale", cta: "Go" });
    // control: known, either side of the deadline
    expect(renderCopy(copy, { item: null, timeLeft: "00:00:09" })).toEqual({
      headline: "Sale: 00:00:09 left",
      cta: "Go 00:00:0900:00:0900:00:09",
    });
    expect(renderCopy(copy, { item: null, timeLeft: "" })).toEqual({
      headline: "Sale ended",
      subline: "Ended",
      cta: "Go",
    });
  });

  it("a countdown's copy says it ended from the deadline on, as its card, link and animation do, not a second before", () => {
    const deadline = "2026-12-24T18:00:00Z";
    const at = Date.parse(deadline);
    const block: Countdown = {
      id: "xmas",
      type: "countdown",
      deadline,
      title: "Ends in",
      url: "https://shop.example/sale",
      ended: { title: "Over", url: "https://shop.example/new" },
      copy: { headline: "{{#timeLeft}}Only {{timeLeft}} left{{/timeLeft}}{{^timeLeft}}Ended{{/timeLeft}}" },
    };
    const campaign = parseCampaign({ v: 2, default: block }, true);
    if (!campaign.success) throw campaign.error;
    const headline = (now: number) => blockCopy(campaign.data, block, countdownItem(block, now), now).headline;
    // the last second: the card still counts down (00:00:00) and its click still goes to the sale
    expect(countdownItem(block, at - 400)).toMatchObject({ title: "Ends in 00:00:00", url: block.url });
    expect(countdownFrames(at, at - 400)).toHaveLength(1);
    expect(headline(at - 400)).toBe("Only 00:00:00 left");
    expect(headline(at - 1000)).toBe("Only 00:00:01 left");
    // at the deadline, everything has ended
    expect(countdownItem(block, at)).toMatchObject({ title: "Over", url: "https://shop.example/new" });
    expect(countdownFrames(at, at)).toEqual([]);
    expect(headline(at)).toBe("Ended");
  });

  it("is plain text (each medium escapes for itself), one line, cut at the field's limit", () => {
    const title = `Mugs & <Cups>\n\t"2 for 1"  ${"x".repeat(300)}`;
    const out = renderCopy({ headline: "{{item.title}}", badge: "{{item.title}}" }, { item: { ...item, title } });
    expect(out.headline?.startsWith('Mugs & <Cups> "2 for 1" xxx')).toBe(true);
    expect(out.headline?.length).toBe(COPY_LIMITS.headline);
    expect(out.headline?.endsWith("…")).toBe(true);
    expect(out.badge).toBe('Mugs & <Cups> "…');
  });

  it("writes a title's lone surrogate as U+FFFD, as the card's text is written (fast-check's strings never hold one)", () => {
    const out = renderCopy({ headline: "{{item.title}}!" }, { item: { ...item, title: "Mug \ud800 blue \udc00" } });
    expect(out.headline).toBe("Mug \ufffd blue \ufffd!");
  });

  it("never yields control characters, half characters or more than the limit, whatever the title", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: "binary" }), (title) => {
        const out = renderCopy({ headline: "{{item.title}}!", cta: "{{item.title}}" }, { item: { ...item, title } });
        for (const [field, text] of Object.entries(out)) {
          expect(text.length).toBeLessThanOrEqual(COPY_LIMITS[field as keyof typeof COPY_LIMITS]);
          expect([...text].some((ch) => ch.charCodeAt(0) < 0x20 || ch === "\u007f")).toBe(false);
          expect(text).toBe(text.trim());
          // never half of a surrogate pair (an emoji cut at the limit)
          expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("copy adds no fact an open must gather: only the conditions' facts are", () => {
    const campaign = parseCampaign(
      {
        v: 2,
        blocks: [
          { id: "a", type: "recommendations", when: { fetcher: { $eq: "direct" } }, copy: { badge: "{{item.title}}" } },
        ],
        default: { id: "d", type: "recommendations", copy: { headline: "{{item.title}}" } },
      },
      true,
    );
    expect(campaign.success).toBe(true);
    if (campaign.success) expect([...factsNeeded(campaign.data)]).toEqual(["fetcher"]);
  });
});

describe("the card's copy", () => {
  const texts = (svg: string) => [...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)<\/text>/g)];

  it("the wide card: the headline above the title, the subline under the price, the call to action as the button", () => {
    const content = {
      title: "Blue Ceramic Mug with a very long name that wraps over several lines of the card",
      price: "£12.00",
      picture: false,
      headline: "Back in stock",
      subline: "Handmade in Stoke; ships tomorrow if you order today before six in the evening, and more",
      cta: "Get yours",
    };
    const svg = cardSvg({ layout: "card", index: 0, scale: 2 }, content);
    const lines = texts(svg).map((m) => ({ y: Number(m[2]), text: m[3] as string }));
    const at = (t: string) => lines.findIndex((l) => l.text.startsWith(t));
    expect(at("Back in stock")).toBe(0);
    expect(at("Get yours")).toBe(lines.length - 1);
    expect(svg).not.toContain("Shop now");
    // the title gives the headline one of its three lines; the subline fits above the button (top at 196)
    expect(at("£12.00") - at("Back in stock") - 1).toBe(2);
    const plain = texts(cardSvg({ layout: "card", index: 0, scale: 1 }, { ...content, headline: undefined }));
    expect(plain.findIndex((m) => m[3] === "£12.00")).toBe(3);
    const sub = lines.filter((l) => l.y > (lines[at("£12.00")]?.y ?? 0) && l.text !== "Get yours");
    expect(sub.length).toBeGreaterThan(0);
    for (const l of sub) expect(l.y).toBeLessThanOrEqual(196 - 4);
    // without copy: the button says "Shop now", as before
    expect(cardSvg({ layout: "card", index: 0, scale: 1 }, { title: "Mug", price: "£1", picture: false })).toContain(
      ">Shop now</text>",
    );
  });

  it("leaves out emoji, which the font cannot draw (each would be an empty box), and keeps © ® ™", () => {
    const svg = cardSvg(
      { layout: "card", index: 0, scale: 1 },
      {
        title: "Mug™ 🎉 Blue",
        price: "£12.00",
        picture: false,
        headline: "Sale 🌸🇬🇧 now",
        subline: "Made with ❤️ by us®",
        cta: "🛒",
        badge: "🔥🔥🔥",
      },
    );
    const drawn = texts(svg).map((m) => m[3]);
    expect(drawn).toEqual(["Sale now", "Mug™ Blue", "£12.00", "Made with by us®", "Shop now"]);
    expect(svg).not.toMatch(/\p{Extended_Pictographic}(?<![™®©])/u);
    // a badge of emoji alone is not drawn (no empty pill)
    expect(svg).not.toContain('fill="#d7263d"/>');
  });

  it("row and grid cards: the headline above the title, the call to action beside the price, no subline", () => {
    for (const layout of ["row", "grid"] as const) {
      const svg = cardSvg(
        { layout, index: 0, scale: 1 },
        {
          title: "Blue Ceramic Mug",
          price: "£12.00",
          picture: false,
          headline: "New",
          subline: "never here",
          cta: "Shop",
        },
      );
      const lines = texts(svg);
      expect(lines[0]?.[3]).toBe("New");
      expect(svg).not.toContain("never here");
      const price = lines.find((m) => m[3] === "£12.00");
      const cta = lines.find((m) => m[3] === "Shop ›");
      expect(cta?.[2]).toBe(price?.[2]);
      expect(cta?.[0]).toContain('text-anchor="end"');
    }
  });
});

describe("the preview's static AMP view", () => {
  const body = {
    items: [
      {
        id: "p1",
        title: "Mug",
        price: "£12.00",
        currency: "GBP",
        image: "",
        url: "https://shop.example/p1",
        badge: "New",
        cta: "Buy",
      },
      { id: "p2", title: "Cup", price: "£8.00", currency: "GBP", image: "", url: "https://shop.example/p2" },
    ],
    copy: { headline: "Picked for you & yours" },
  };

  it("renders this repository's template (single-item) once with the whole answer", () => {
    const doc = `<html><body><amp-list src="x" items="." single-item><template type="amp-mustache">{{#copy}}<h2>{{headline}}</h2>{{/copy}}{{#items}}<a href="{{url}}">{{title}}{{#badge}}[{{badge}}]{{/badge}}{{#cta}}({{cta}}){{/cta}}</a>{{/items}}</template></amp-list></body></html>`;
    const view = ampStaticView(doc, body);
    expect(view).toContain("<h2>Picked for you &amp; yours</h2>");
    // mustache's own escaping (as amp-mustache's): & and / in attributes
    expect(view).toContain('p1">Mug[New](Buy)</a><a href="https:&#x2F;&#x2F;shop.example&#x2F;p2">Cup</a>');
    expect(view).not.toContain("amp-list");
  });

  it("shows a '$$' in an item's words as written (never read as a replacement pattern)", () => {
    const doc = `<amp-list src="x" items="." single-item><template type="amp-mustache">{{#items}}<b>{{title}}</b>{{/items}}</template></amp-list>`;
    const priced = { items: [{ ...(body.items[0] as (typeof body.items)[0]), title: "2 for $$5 $$$ US$$" }] };
    expect(ampStaticView(doc, priced)).toContain("<b>2 for $$5 $$$ US$$</b>");
  });

  it("renders an older template of items (emails built before block copy) item by item", () => {
    const doc = `<amp-list src="x" items="items"><template type="amp-mustache"><a href="{{url}}">{{title}}</a></template></amp-list>`;
    const view = ampStaticView(doc, body);
    // one list item per item, as amp-list renders them
    expect(view).toContain(
      'p1">Mug</a></div>\n<div role="listitem"><a href="https:&#x2F;&#x2F;shop.example&#x2F;p2">Cup</a>',
    );
  });
});
