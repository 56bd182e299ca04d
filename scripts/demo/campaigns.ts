/**
 * The demo shop's campaigns (`npm start` stores them): `demo` keeps what the first open showed, `demo-live`
 * decides again at every open, `demo-blocks` picks a block by conditions (core/conditions.ts): a welcome
 * banner for readers with no purchase yet, Mugs lifted in the evening for readers who bought Mugs, and the
 * model's picks for everyone else, each with its own copy (core/block-copy.ts). Written as a shop would PUT
 * them (version 2).
 */
export const DEMO_CAMPAIGNS: Record<string, unknown> = {
  demo: { v: 2, policy: "freeze", badge: "For you", default: { id: "picks", type: "recommendations" } },
  "demo-live": { v: 2, policy: "live", default: { id: "picks", type: "recommendations" } },
  "demo-blocks": {
    v: 2,
    policy: "live",
    timeZone: "Europe/London",
    blocks: [
      {
        id: "welcome",
        type: "static",
        when: { purchases: { $lt: 1 } },
        title: "New here? Our bestsellers are a good start",
        image: "/demo/img/p000001.png?w={width}&h={height}",
        url: "/demo/p/p000001",
        copy: { headline: "Welcome to the shop", subline: "Start with what everyone loves", cta: "Browse" },
      },
      {
        id: "evening-mugs",
        type: "recommendations",
        when: { localHour: { $gte: 18 }, boughtCategories: { $in: ["Mugs"] } },
        items: { boost: { categories: { Mugs: 0.3 } }, maxPerCategory: 4 },
        copy: {
          headline: "An evening cup? {{item.title}}",
          subline: "More mugs for your collection, from {{item.price}}",
          cta: "See it",
          badge: "Tonight",
        },
      },
    ],
    default: {
      id: "picks",
      type: "recommendations",
      copy: {
        headline: "Picked for you",
        subline: "Fresh picks each time you open this email",
        cta: "Shop now",
        badge: "{{item.category}}",
      },
    },
  },
};
