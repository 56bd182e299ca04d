/**
 * A campaign's item rules, applied at every open over the model's candidates (worker/recs/recommend.ts):
 * exclusions (price range, categories, ids), boosts (by category or live-catalog tag), diversity (at most K
 * items of a category) and pinned items (first, in the order given). Pure: the caller hands over candidates
 * best first, with the live catalog's fields already laid over them.
 */
import { z } from "zod";
import { type CatalogItem, CurrencyCodeSchema } from "./catalog";
import { IdSchema } from "./events";

// a category or tag `__proto__`, which this record would drop, is refused before (core/campaign.ts parseCampaign)
const Weights = z
  .record(z.string().min(1).max(200), z.number().min(-1).max(1))
  .refine((w) => Object.keys(w).length <= 50, { message: "at most 50 entries" });

export const ItemRulesSchema = z
  .object({
    exclude: z
      .object({
        /** prices (live) below or above are never shown */
        priceMin: z.number().nonnegative().max(1e9).optional(),
        priceMax: z.number().nonnegative().max(1e9).optional(),
        /**
         * the currency of priceMin and priceMax: an item priced (live) in another is never shown while a bound is
         * set (prices are never converted). Without it the bounds compare an item's number whatever its currency.
         */
        currency: CurrencyCodeSchema.optional(),
        categories: z.array(z.string().min(1).max(200)).max(100).optional(),
        ids: z.array(IdSchema).max(1000).optional(),
        /** what the reader bought within this many days (beside EXCLUDE_PURCHASED_DAYS, which always applies) */
        boughtWithinDays: z.number().int().min(1).max(3650).optional(),
      })
      .strict()
      .optional(),
    /**
     * added to each candidate's score, itself scaled to 0..1 over the candidates (1 the best): +0.2 lifts an
     * item above any other scored up to 0.2 higher; -1 sinks it below every unboosted one
     */
    boost: z.object({ categories: Weights.optional(), tags: Weights.optional() }).strict().optional(),
    /** at most this many items of one category in an answer */
    maxPerCategory: z.number().int().min(1).max(24).optional(),
    /**
     * the same item shown to a reader at most `max` times in `days` days (amp-list answers and image slots of
     * distinct emails, from the impressions kept on the reader's profile; pinned items are exempt)
     */
    frequencyCap: z
      .strictObject({ max: z.number().int().min(1).max(100), days: z.number().int().min(1).max(365) })
      .optional(),
    /**
     * shown first, in this order, when available and not among the reader's recent purchases (the exclusions
     * above do not apply to them: they were chosen)
     */
    pinned: z
      .array(IdSchema)
      .max(24)
      .refine((ids) => new Set(ids).size === ids.length, { message: "each id at most once" })
      .optional(),
  })
  .strict()
  .refine((r) => (r.exclude?.priceMin ?? 0) <= (r.exclude?.priceMax ?? Number.POSITIVE_INFINITY), {
    message: "priceMin must not exceed priceMax",
    path: ["exclude", "priceMin"],
  })
  .refine(
    (r) => r.exclude?.currency === undefined || r.exclude.priceMin !== undefined || r.exclude.priceMax !== undefined,
    {
      message: "names the currency of priceMin and priceMax: set one of them, or drop it",
      path: ["exclude", "currency"],
    },
  );
export type ItemRules = z.infer<typeof ItemRulesSchema>;

/** How many candidates to rank for `n` answers when rules apply: room for exclusions and diversity. */
export function candidatesFor(n: number): number {
  return Math.max(5 * n, n + 50);
}

export interface Candidate {
  item: CatalogItem;
  score: number;
}

/** What the rules did to one answer (the `X-Opentime-Rules` header). */
export interface RulesApplied {
  /** candidates excluded: price, categories, ids, bought within the rule's days */
  excluded: number;
  /** candidates withheld by the frequency cap (shown to this reader often enough already) */
  seen: number;
  boosted: number;
  /** candidates passed over for diversity */
  capped: number;
  pinned: number;
  /** capped candidates taken after all, because too few others were left (diversity gives way before length) */
  relaxed: number;
  /** popular items the rules allowed, added because the model's candidates ran out (set by the caller) */
  filled: number;
}

/** Whether the rules' exclusions take an item out (its live price and currency, its category, its id). */
export function excludes(rules: ItemRules): (item: CatalogItem) => boolean {
  const ex = rules.exclude;
  const categories = new Set(ex?.categories ?? []);
  const ids = new Set(ex?.ids ?? []);
  const bounded = ex?.priceMin !== undefined || ex?.priceMax !== undefined;
  return (item) =>
    // a catalog file may spell its codes in lower case (the rules' are upper case)
    (bounded && ex?.currency !== undefined && item.currency.toUpperCase() !== ex.currency) ||
    (ex?.priceMin !== undefined && item.price < ex.priceMin) ||
    (ex?.priceMax !== undefined && item.price > ex.priceMax) ||
    categories.has(item.category) ||
    ids.has(item.id);
}

/**
 * More items when the candidates leave the answer short (popular ones, as they are now): `short` wanted, none of
 * `taken` (the candidates already placed or passed over), at most `room(category)` of a category (what its cap
 * leaves: the fill looks past the categories already full, however far down; asked again with no limit when that
 * leaves the answer short, for the cap to give way). The rules' exclusions and boosts apply to them too.
 */
export type Fill = (
  taken: ReadonlySet<string>,
  short: number,
  room: (category: string) => number,
) => readonly Candidate[];

/**
 * For a fill taking items in turn: whether an item of `category` may be taken, at most `room(category)` of each
 * (counted down as they are taken).
 */
export function withinRoom(room: (category: string) => number): (category: string) => boolean {
  const left = new Map<string, number>();
  return (category) => {
    const free = left.get(category) ?? room(category);
    if (!(free > 0)) return false;
    left.set(category, free - 1);
    return true;
  };
}

export function applyItemRules(
  candidates: readonly Candidate[],
  rules: ItemRules,
  n: number,
  /** the pinned ids' items, available now (the caller looks them up) */
  pinnedItems: readonly CatalogItem[],
  tagsOf: (id: string) => readonly string[] | undefined,
  /** asked only when the candidates under the category cap leave the answer short, before any over it is taken */
  fill?: Fill,
): { items: Candidate[]; applied: RulesApplied } {
  const applied: RulesApplied = { excluded: 0, seen: 0, boosted: 0, capped: 0, pinned: 0, relaxed: 0, filled: 0 };
  const isOut = excludes(rules);
  const pinnedIds = new Set(pinnedItems.map((i) => i.id));
  const kept = candidates.filter(({ item }) => {
    if (pinnedIds.has(item.id)) return false; // placed first below
    const out = isOut(item);
    if (out) applied.excluded++;
    return !out;
  });
  const ranked = boosted(kept, rules.boost, tagsOf, applied);
  const out: Candidate[] = [];
  const perCategory = new Map<string, number>();
  const filled = new Set<Candidate>();
  const take = (c: Candidate) => {
    out.push(c);
    perCategory.set(c.item.category, (perCategory.get(c.item.category) ?? 0) + 1);
    if (filled.has(c)) applied.filled++;
  };
  for (const item of pinnedItems) {
    if (out.length === n) break;
    take({ item, score: Number.NaN });
    applied.pinned++;
  }
  const cap = rules.maxPerCategory ?? Number.POSITIVE_INFINITY;
  const passed: Candidate[] = [];
  const underCap = (list: readonly Candidate[], counted: boolean) => {
    for (const c of list) {
      if (out.length === n) break;
      if ((perCategory.get(c.item.category) ?? 0) >= cap) {
        if (counted) applied.capped++;
        passed.push(c);
        continue;
      }
      take(c);
    }
  };
  underCap(ranked, true);
  // too few candidates: more items the rules allow, still under the cap (their exclusions and boosts not counted)
  if (out.length < n && fill) {
    const taken = new Set([...out, ...passed].map((c) => c.item.id));
    const scratch: RulesApplied = { ...applied };
    /** `short` more of the fill, at most `room` of a category, placed under the cap (each item asked for once) */
    const fillUp = (short: number, room: (category: string) => number) => {
      const more = fill(taken, short, room).filter((c) => !taken.has(c.item.id) && !isOut(c.item));
      for (const c of more) {
        filled.add(c);
        taken.add(c.item.id);
      }
      underCap(boosted(more, rules.boost, tagsOf, scratch), false);
    };
    fillUp(n - out.length, (category) => cap - (perCategory.get(category) ?? 0));
    // every category with room run dry: popular items over the cap too, for the relaxing below (diversity gives
    // way before length)
    const still = n - out.length - passed.length;
    if (still > 0) fillUp(still, () => Number.POSITIVE_INFINITY);
  }
  // too few categories among them: the best of those passed over fill the answer
  for (const c of passed) {
    if (out.length === n) break;
    take(c);
    applied.relaxed++;
  }
  return { items: out, applied };
}

function boosted(
  candidates: Candidate[],
  boost: ItemRules["boost"],
  tagsOf: (id: string) => readonly string[] | undefined,
  applied: RulesApplied,
): Candidate[] {
  const byCategory = boost?.categories ?? {};
  const byTag = boost?.tags ?? {};
  if (Object.keys(byCategory).length === 0 && Object.keys(byTag).length === 0) return candidates;
  // scaled over the finite scores (a NaN or infinite one would make every scaled score NaN)
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const c of candidates) {
    if (!Number.isFinite(c.score)) continue;
    lo = Math.min(lo, c.score);
    hi = Math.max(hi, c.score);
  }
  const span = hi > lo ? hi - lo : 1;
  // own keys only: a category named "constructor" is a category, not Object.prototype's
  const weight = (weights: Record<string, number>, key: string) =>
    Object.hasOwn(weights, key) ? (weights[key] ?? 0) : 0;
  const scored = candidates.map((c, rank) => {
    let extra = weight(byCategory, c.item.category);
    for (const tag of tagsOf(c.item.id) ?? []) extra += weight(byTag, tag);
    if (extra !== 0) applied.boosted++;
    // (scores that are not numbers, as for popularity order, fall back to the rank)
    const base = Number.isFinite(c.score) ? (c.score - lo) / span : 1 - rank / Math.max(1, candidates.length);
    return { c, value: base + extra, rank };
  });
  scored.sort((a, b) => b.value - a.value || a.rank - b.rank);
  return scored.map((s) => s.c);
}

/** `X-Opentime-Rules`: what the rules did, e.g. `excluded=3;boosted=2;capped=1;pinned=1;relaxed=0;filled=0`. */
export function rulesHeader(a: RulesApplied): string {
  return `excluded=${a.excluded};seen=${a.seen};boosted=${a.boosted};capped=${a.capped};pinned=${a.pinned};relaxed=${a.relaxed};filled=${a.filled}`;
}

/** Impressions and purchases as the reader's profile keeps them (core/profile.ts). */
export interface ReaderHistory {
  impressions: readonly { item: string; ts: number; send?: string }[];
  purchases: readonly { item: string; lastTs: number }[];
}

/**
 * What the rules withhold from this reader by their own history: items shown `frequencyCap.max` times within
 * `frequencyCap.days` by other emails than this one (`send`, `<campaign>:<token expiry>.<nonce>`, core/token.ts sendKey: re-opening an email
 * does not hide what it showed), and items bought within `exclude.boughtWithinDays`. `nowS`: unix seconds.
 */
export function readerExclusions(
  rules: ItemRules,
  history: ReaderHistory | undefined,
  nowS: number,
  send?: string,
): { seen: Set<string>; bought: Set<string> } {
  const seen = new Set<string>();
  const bought = new Set<string>();
  if (!history) return { seen, bought };
  const cap = rules.frequencyCap;
  if (cap) {
    const since = nowS - cap.days * 86_400;
    const counts = new Map<string, number>();
    for (const i of history.impressions) {
      if (i.ts < since || (send !== undefined && i.send === send)) continue;
      const c = (counts.get(i.item) ?? 0) + 1;
      counts.set(i.item, c);
      if (c >= cap.max) seen.add(i.item);
    }
  }
  const days = rules.exclude?.boughtWithinDays;
  if (days) {
    const since = nowS - days * 86_400;
    for (const p of history.purchases) if (p.lastTs >= since) bought.add(p.item);
  }
  return { seen, bought };
}
