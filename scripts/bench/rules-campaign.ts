/**
 * The campaign the benchmark opens under to price campaign rules: seven conditional blocks with nine tests of
 * nine reader, open and model facts (none holds for the bench's readers, so every one is evaluated and the
 * reader's facts are gathered), then a default block of recommendations under five item rules (one more sits
 * in a block that is skipped). Beside it, the
 * same campaign with no blocks and no rules, and that one with copy in all four fields (core/block-copy.ts:
 * rendered per item, drawn on the cards): what copy costs, apart. All `live`, so every image open decides.
 */
export const PLAIN_CAMPAIGN = { v: 2, policy: "live", default: { id: "picks", type: "recommendations" } };

/** PLAIN_CAMPAIGN with copy: a headline, subline, call to action and badge on every card. */
export const COPY_CAMPAIGN = {
  ...PLAIN_CAMPAIGN,
  default: {
    ...PLAIN_CAMPAIGN.default,
    copy: {
      headline: "{{#item}}Picked for you: {{item.title}}{{/item}}",
      subline: "From {{item.price}}, in {{item.category}}",
      cta: "See {{item.category}}",
      badge: "{{item.category}}",
    },
  },
};

const banner = { type: "static", title: "Bench banner", image: "/demo/img/banner.png", url: "https://shop.example/" };

export const RULES_CAMPAIGN = {
  v: 2,
  policy: "live",
  timeZone: "Europe/London",
  blocks: [
    { id: "hot", type: "recommendations", when: { topProbability: { $gte: 0.99 } } },
    { id: "vip", type: "recommendations", when: { segment: { $eq: "no-such-segment" } }, items: { maxPerCategory: 1 } },
    { id: "engaged", ...banner, when: { engagement: { $eq: "high" }, propensity: { $gte: 0.999 } } },
    { id: "lapsed", ...banner, when: { daysSinceLastPurchase: { $gte: 100_000 } } },
    { id: "dach", ...banner, when: { country: { $in: ["DE", "AT", "CH"] } } },
    { id: "never", ...banner, when: { localHour: { $lt: 0 } } },
    {
      id: "prefetch",
      ...banner,
      when: { $or: [{ fetcher: { $eq: "apple-mpp" } }, { boughtCategories: { $all: ["x", "y"] } }] },
    },
  ],
  default: {
    id: "picks",
    type: "recommendations",
    items: {
      exclude: { priceMax: 150, categories: ["Category 7", "Gift cards"] },
      boost: { categories: { "Category 3": 0.2, Mugs: 0.2 } },
      maxPerCategory: 2,
    },
  },
};

/** A campaign whose one block counts down to `deadlineMs` (the countdown GIF's cost). */
export function countdownCampaign(deadlineMs: number) {
  return {
    v: 2,
    policy: "live",
    default: {
      id: "sale",
      type: "countdown",
      deadline: new Date(deadlineMs).toISOString(),
      title: "Sale ends in",
      url: "https://shop.example/sale",
      ended: { title: "The sale is over" },
    },
  };
}

/**
 * An experiment on a campaign like PLAIN_CAMPAIGN, one variant of the same configuration: every open pays for
 * resolving the reader's arm (the experiment's read, the reader's recorded exposures) and serves what the plain
 * campaign serves, so the difference is the experiment's own cost.
 */
export const EXPERIMENT_ON_PLAIN = (campaign: string) => ({
  v: 1,
  id: `${campaign}-test`,
  campaign,
  coverage: 1,
  holdout: 0,
  attributionDays: 7,
  status: "running",
  variants: [{ id: "only", weight: 1, content: PLAIN_CAMPAIGN }],
});
