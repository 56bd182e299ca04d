/** Campaign settings, slot names and sized picture URLs (core/campaign.ts, core/layouts.ts, core/catalog.ts). */
import { describe, expect, it } from "vitest";
import { CampaignSchema, DEFAULT_CAMPAIGN, parseCampaign, withUtm } from "../../core/campaign";
import { sizedImageUrl } from "../../core/catalog";
import { ExperimentSchema, strictVariantIssues } from "../../core/experiments/experiment";
import { fieldPath } from "../../core/field-path";
import { parseSlot, slotName, slotPixels } from "../../core/layouts";

describe("click-through UTM", () => {
  it("adds the campaign's UTM parameters, defaulting campaign and content, and keeps those already on the URL", () => {
    const url = new URL(
      withUtm("https://shop.example/p/1?utm_source=feed&color=red", "spring", DEFAULT_CAMPAIGN, "row-2"),
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      utm_source: "feed",
      color: "red",
      utm_medium: "email",
      utm_campaign: "spring",
      utm_content: "row-2",
    });
    const custom = CampaignSchema.parse({
      v: 2,
      utm: { source: "newsletter", medium: "mail", campaign: "q2", content: "hero" },
      default: { id: "picks", type: "recommendations" },
    });
    const u2 = new URL(withUtm("https://shop.example/p/1", "spring", custom, "row-2"));
    expect(u2.search).toBe("?utm_source=newsletter&utm_medium=mail&utm_campaign=q2&utm_content=hero");
  });

  it("appends them to the query as it is: a signed product URL keeps its bytes", () => {
    const signed = "https://shop.example/p/1?flag&name=a%20b&sig=x%2By";
    expect(withUtm(signed, "spring", DEFAULT_CAMPAIGN, "row-0")).toBe(
      `${signed}&utm_source=opentime&utm_medium=email&utm_campaign=spring&utm_content=row-0`,
    );
    // a fragment stays last; values are encoded as one component
    const custom = { ...DEFAULT_CAMPAIGN, utm: { ...DEFAULT_CAMPAIGN.utm, campaign: "a&b c" } };
    expect(withUtm("https://shop.example/p/1#top", "x", custom, "row-0")).toBe(
      "https://shop.example/p/1?utm_source=opentime&utm_medium=email&utm_campaign=a%26b%20c&utm_content=row-0#top",
    );
  });

  it("settings default to freeze for 30 days and refuse unknown policies", () => {
    expect(DEFAULT_CAMPAIGN).toMatchObject({ policy: "freeze", decisionTtlDays: 30 });
    expect(parseCampaign({ policy: "sometimes" }).success).toBe(false);
  });
});

describe("block types", () => {
  const issues = (raw: unknown) => {
    const r = parseCampaign(raw);
    return r.success ? [] : r.error.issues.map((i) => [fieldPath(i.path), i.message]);
  };

  it("a product block as the default says why it cannot be one; an unknown type names the types there are", () => {
    expect(issues({ v: 2, default: { id: "d", type: "product", item: "p1" } })).toEqual([
      ["default.type", expect.stringContaining("a product block cannot be the default")],
    ]);
    expect(issues({ v: 2, default: { id: "d", type: "banner" } })).toEqual([
      ["default.type", "must be one of: recommendations, static, countdown"],
    ]);
    const inBlocks = issues({
      v: 2,
      default: { id: "d", type: "recommendations" },
      blocks: [{ id: "b", type: "banner", when: {} }],
    });
    expect(inBlocks).toEqual([["blocks[0].type", "must be one of: recommendations, static, product, countdown"]]);
  });

  it("a block's link or picture that no URL parser reads is refused by its path, not saved to fail at the click", () => {
    for (const url of ["https://shop.example:99999/sale", "https://[shop.example/sale", "https://%zz/sale"]) {
      const block = { id: "s", type: "static", title: "Sale", image: "https://shop.example/a.png", url };
      expect(issues({ v: 2, default: block }), url).toEqual([
        [
          "default.url",
          "must be an http(s) URL that parses, or a path starting with one / and without control characters",
        ],
      ]);
    }
    const good = {
      id: "s",
      type: "static",
      title: "Sale",
      image: "/img/a.png",
      url: "https://shop.example:8443/sale?x=1",
    };
    expect(issues({ v: 2, default: good })).toEqual([]);
  });
});

describe("slot names", () => {
  it("parses layout, position and scale, and refuses positions outside the layout", () => {
    expect(parseSlot("grid-3@2x")).toEqual({ layout: "grid", index: 3, scale: 2 });
    expect(slotPixels(parseSlot("grid-3@2x") as never)).toEqual({ width: 600, height: 680 });
    expect(slotName({ layout: "row", index: 1, scale: 2 })).toBe("row-1@2x");
    for (const bad of ["row-3", "card-1", "grid-0@3x", "row-01", "banner-0", "", "row-0.png"])
      expect(parseSlot(bad)).toBeNull();
  });
});

describe("sized picture URLs", () => {
  it("fills {width} and {height} with pixels, and leaves other URLs alone", () => {
    expect(sizedImageUrl("https://cdn.example/a.jpg?w={width}&h={height}&fit=crop", 552, 431.6)).toBe(
      "https://cdn.example/a.jpg?w=552&h=432&fit=crop",
    );
    expect(sizedImageUrl("https://cdn.example/a.jpg", 10, 10)).toBe("https://cdn.example/a.jpg");
  });
});

describe("versions", () => {
  it("a version 2 body without `v` is refused at `v` saying so, not as unknown fields of version 1", () => {
    const r = parseCampaign({ blocks: [], default: { id: "d", type: "recommendations" }, policy: "live" }, true);
    expect(r.success).toBe(false);
    const issues = r.success ? [] : r.error.issues.map((i) => [fieldPath(i.path), i.message]);
    expect(issues).toEqual([["v", expect.stringContaining('add "v": 2')]]);
    expect(issues[0]?.[1]).toContain("blocks, default");
    // version 1 bodies are still read as such, and a stored one (lenient) is untouched
    expect(parseCampaign({ policy: "live", items: { maxPerCategory: 2 } }, true).success).toBe(true);
    expect(parseCampaign({ policy: "live", default: { id: "d", type: "recommendations" } }).success).toBe(true);
  });
});

describe("the admin API's campaign edge cases", () => {
  const base = { v: 2, default: { id: "picks", type: "recommendations" } };
  const refusal = (raw: unknown) => {
    const parsed = parseCampaign(raw, true);
    return parsed.success ? null : parsed.error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`);
  };

  it("refuses a UTM parameter it does not know, rather than dropping it (utm_term would be lost unsaid)", () => {
    expect(refusal({ ...base, utm: { source: "news", term: "spring" } })?.join()).toMatch(/term/);
    expect(refusal({ ...base, utm: { source: "news", content: "hero" } })).toBeNull();
  });

  it("refuses a lone surrogate in a UTM value (no click URL could carry it) and in a subject line", () => {
    expect(refusal({ ...base, utm: { source: "news\ud800" } })).toEqual([
      "utm.source: must be well-formed Unicode (no lone surrogate)",
    ]);
    const subjects = (subject: string) => ({ ...base, subjects: { default: { subject } } });
    expect(refusal(subjects("Hi \udc00"))).toEqual([
      "subjects.default.subject: must be well-formed Unicode (no lone surrogate)",
    ]);
    // a whole emoji is text like any other
    expect(refusal(subjects("Hi 😀"))).toBeNull();
    expect(refusal({ ...base, utm: { campaign: "printemps-été-😀" } })).toBeNull();
  });

  it("refuses two subject rules of one id (the subjects answer names the rule that chose a line)", () => {
    const rule = { id: "loyal", when: { engagement: { $eq: "high" } }, subject: "Thanks" };
    const raw = { ...base, subjects: { rules: [rule, { ...rule, subject: "Thank you" }], default: { subject: "Hi" } } };
    expect(refusal(raw)).toEqual(['subjects.rules[1].id: rule id "loyal" is used twice']);
    // a stored campaign is read as it is
    expect(parseCampaign(raw).success).toBe(true);
    // nor one named "default": the answer's rule for a reader no rule chose
    const named = { ...base, subjects: { rules: [{ ...rule, id: "default" }], default: { subject: "Hi" } } };
    expect(refusal(named)).toEqual([
      'subjects.rules[0].id: "default" names the default subject line in the answer (rule): give this rule another id',
    ]);
  });
});

describe("stored campaigns and experiments are read as they were written; the admin API checks more", () => {
  const subjects = {
    rules: [
      { id: "a", when: {}, subject: "One" },
      { id: "a", when: {}, subject: "Two \ud800" },
    ],
    default: { subject: "Hello" },
  };
  const stored = {
    v: 2,
    utm: { source: "news", medium: "email", term: "later-version", content: "x\udc00" },
    subjects,
    default: { id: "default", type: "recommendations" },
  };

  it("a stored campaign with a utm key it does not know, a lone surrogate or two rules of one id still parses", () => {
    const read = parseCampaign(stored);
    expect(read.success).toBe(true);
    if (!read.success) return;
    // the click URL writes the lone surrogate as U+FFFD instead of throwing (every click would land on the home)
    const url = new URL(withUtm("https://shop.example/p/1", "spring", read.data, "row-0"));
    expect(url.searchParams.get("utm_content")).toBe("x\ufffd");
    expect(url.searchParams.get("utm_source")).toBe("news");
  });

  it("the admin API refuses each, named by its path", () => {
    const put = parseCampaign(stored, true);
    expect(put.success).toBe(false);
    if (put.success) return;
    const paths = put.error.issues.map((i) => fieldPath(i.path));
    expect(paths).toEqual(
      expect.arrayContaining(["utm", "utm.content", "subjects.rules[1].subject", "subjects.rules[1].id"]),
    );
  });

  it("a stored experiment whose variant the admin API would now refuse still parses; the PUT's check names it", () => {
    const experiment = {
      v: 1,
      id: "exp",
      campaign: "spring",
      status: "running",
      variants: [
        { id: "a", weight: 1, content: "popular" },
        { id: "b", weight: 1, content: stored },
      ],
    };
    expect(ExperimentSchema.safeParse(experiment).success).toBe(true);
    const issues = strictVariantIssues(experiment).map((i) => fieldPath(i.path));
    expect(issues).toEqual(expect.arrayContaining(["variants[1].content.subjects.rules[1].id"]));
  });
});
