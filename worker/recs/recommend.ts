/**
 * Picks the items for one amp-list request: token -> model -> profile -> scores -> exclusions.
 * With a hybrid model (ALS + content graphs and re-ranker weights) and a profile that has both vectors,
 * every item is scored by core/hybrid.ts over ORT's item scores, and where the version's learned ranker serves
 * the mode its trees rank core/ranker.ts's candidates; otherwise the ALS graph's top-k. A reader whose features
 * carry a usable pool (core/reader-pool.ts) gets the same answer from it, without the graphs.
 * Never throws: every failure degrades to generic (popular) content and names its reason, which the
 * route sends in `X-Opentime-Reason`. A token that does not verify never reaches personal data; an erased
 * reader (their tombstone, read in parallel with the profile) gets popular items, and nothing is recorded.
 */
import { base64ToFloat32 } from "../../core/base64";
import type { CatalogItem } from "../../core/catalog";
import { foldIn, hasNews, profileInteractions } from "../../core/fold-in";
import {
  hybridScores,
  type ItemStats,
  itemPriors,
  type LinearWeights,
  neighboursWeight,
  ownItems,
} from "../../core/hybrid";
import { topK } from "../../core/int8-kernel";
import {
  applyItemRules,
  candidatesFor,
  excludes,
  type Fill,
  type ItemRules,
  type ReaderHistory,
  type RulesApplied,
  readerExclusions,
  withinRoom,
} from "../../core/item-rules";
import { liveItem } from "../../core/live-catalog";
import { ownNeighbourSums } from "../../core/neighbour-table";
import { emptyProfile, type ModelOutputs, modelOutputs, NO_MODEL_OUTPUTS, type Profile } from "../../core/profile";
import { CANDIDATES, rankCandidates, rankerCandidates } from "../../core/ranker";
import { decodePool, type PoolRanking, poolCandidates, poolHybridTop, type ReaderPool } from "../../core/reader-pool";
import { NO_FALLBACK_SUFFIX, type Ranking, type RecsReason, type Scorer, type ServedReason } from "../../core/reasons";
import { sendKey, type TokenResult, verifyToken } from "../../core/token";
import type { CompiledEnsemble } from "../../core/tree-ensemble";
import { getLiveCatalog, type LiveCatalogView, namedItem, overlayOf } from "../catalog/live-catalog";
import type { Config } from "../env";
import { hasLegacyTombstone, hasTombstone } from "../events/erasure";
import type { WaitUntil } from "../lib/background";
import { errorMessage, logEvent } from "../lib/log";
import { itemLookup } from "../model/item-lookup";
import { forOpen, getFallbackItems, getModel, type LoadedModel, type ModelState } from "../model/model-store";
import { type ProfileRead, readFeatures, readProfile } from "../profile/profile-store";
import { type Exclusion, exclusionFor } from "./exclusion";

export interface Recommendation {
  items: CatalogItem[];
  /** `personalized`, or why generic content was served (core/reasons.ts) */
  reason: ServedReason;
  /** `hybrid`, `als`, `als-foldin` (user vector folded in from their latest behaviour) or `popular` */
  scorer: Scorer;
  /** for the ranker and the hybrid: whether the reader's pool ranked them, or the graphs over every item */
  ranking?: Ranking;
  /**
   * whether this open may be recorded (a decision stored, an open or click event queued): a verified token
   * and a reader whose consent allows tracking (an unreadable profile counts as not allowing it)
   */
  recordable: boolean;
  modelVersion: string | null;
  /** each item's score from the scorer (same order as `items`); null for generic content */
  scores?: number[] | null;
  /** how many items the exclusion rule (recent purchases, or all in `novel` mode) removed from the candidates */
  excluded?: number;
  /**
   * milliseconds the model's ranking took in the Worker (fold-in, scores, candidates, trees, picking), after the
   * model and the reader were read; absent when none was made (generic content). The amp-list sends it in
   * `Server-Timing` (`score`); workerd's clock ticks in milliseconds, and a deployed Worker's only across I/O.
   */
  scoreMs?: number;
  /** what the campaign's item rules did (none: no rules) */
  rules?: RulesApplied;
  /** ids withheld from this reader (their recent purchases): item rules never bring them back */
  withheld?: ReadonlySet<string>;
  /**
   * what is known of the reader, present only when it may be used (a verified token, not erased, allowing
   * personalization): the facts a campaign's conditions test come from here (worker/campaigns/); while no model
   * serves, their profile with none of the model's outputs
   */
  reader?: { profile: Profile; outputs: ModelOutputs };
  /**
   * the reader's own history while no model serves (their profile read, and it allows personalization): the
   * campaign's rules withhold by it as with a model (frequency cap, bought within N days)
   */
  history?: ReaderHistory;
  /**
   * More items for the slots of an image block this answer leaves without one (worker/decisions/decide-slot.ts):
   * popular items (the model catalog's list, else the stored fallback items), as they are now, that the same
   * exclusions and item rules allow, none of `taken`; best first, at most `count`
   */
  more?: MoreItems;
}

export type MoreItems = (taken: ReadonlySet<string>, count: number) => Promise<CatalogItem[]>;

/**
 * What one open reads once, however many rankings it asks for: the model and the live catalog (each asked for
 * when first wanted: a click or re-open that reuses a stored decision asks for neither), the reader's profile,
 * and the rankings made so far by width (a narrower one is the start of a wider one). A block's conditions and
 * the block served share them (worker/campaigns/).
 */
export interface OpenLoads {
  model: Promise<ModelState>;
  live: Promise<LiveCatalogView>;
  ranked: Map<number, Promise<Recommendation>>;
  /** the reader's profile, read once (an experiment's arm needs their exposures before any ranking) */
  profile?: { user: string; read: Promise<ProfileRead> };
}

/** The reader's profile as this open reads it: one KV read, however many ask. */
export function profileOnce(loads: OpenLoads, kv: KVNamespace, user: string): Promise<ProfileRead> {
  if (loads.profile?.user !== user) loads.profile = { user, read: readProfile(kv, user) };
  return loads.profile.read;
}

export function openLoads(kv: KVNamespace, config: Config, now: number, waitUntil: WaitUntil): OpenLoads {
  let model: Promise<ModelState> | undefined;
  let live: Promise<LiveCatalogView> | undefined;
  return {
    get model() {
      // an open waits a bounded time for a model this isolate is still loading (forOpen)
      model ??= forOpen(getModel(kv, config.modelRefreshSeconds, now, waitUntil));
      return model;
    },
    // a campaign held on a model version replaces it (worker/campaigns/serve-block.ts)
    set model(pinned) {
      model = pinned;
    },
    get live() {
      live ??= getLiveCatalog(kv, waitUntil, now);
      return live;
    },
    ranked: new Map(),
  };
}

export interface RecommendInput {
  kv: KVNamespace;
  config: Config;
  token: string | undefined;
  /** the token already verified by the caller (decisions verify it first), so it is not verified twice */
  verified?: TokenResult;
  n: number;
  /** the campaign's item rules (applied only for a verified token: they are the token's campaign's) */
  rules?: ItemRules;
  /** unix milliseconds */
  now?: number;
  /** what this open already read or ranked (openLoads); a fresh one when absent */
  loads?: OpenLoads;
  /**
   * false: popular items and nothing of the reader used (an experiment's popular arm or holdout,
   * `experiment-popular`); the reader's consent is still read, to know whether the open may be recorded
   */
  personalize?: boolean;
}

const DAY_SECONDS = 86400;

/**
 * The items for one open: the model's ranking (rank below), then the campaign's item rules
 * (core/item-rules.ts) when it has any: ranked wider, filtered, boosted, capped per category, pinned first.
 */
export async function recommend(input: RecommendInput): Promise<Recommendation> {
  const now = input.now ?? Date.now();
  // the model and the live catalog (stock, price, ...: core/live-catalog.ts), each asked for once per open, beside
  // the reader's reads in rank; neither throws
  // without the open's loads (tests): this call awaits whatever it starts
  const loads = input.loads ?? openLoads(input.kv, input.config, now, () => undefined);
  const verified =
    input.verified ?? (await verifyToken(input.config.tokenSecrets, input.token, Math.floor(now / 1000)));
  const loaded = { ...input, verified, now, loads };
  const rules = verified.ok && input.rules && hasEffect(input.rules) ? input.rules : undefined;
  if (!rules) {
    const rec = await rankOnce(loaded, input.n);
    return { ...rec, more: popularMore(loaded, (it) => !rec.withheld?.has(it.id)) };
  }
  const [wide, modelState, live] = await Promise.all([
    rankOnce(loaded, candidatesFor(input.n)),
    loads.model,
    loads.live,
  ]);
  const catalog = modelState.ok ? modelState.model.catalog : modelState.catalog;
  // never shown, pinned or not: what the live catalog hides, and what the reader's own purchases withhold
  const showable = (id: string) => !live.unavailable.has(id) && !wide.withheld?.has(id);
  // withheld by the rules from this reader's own history (frequency cap, bought within N days); pinned exempt
  const own = readerExclusions(
    rules,
    wide.reader?.profile ?? wide.history,
    Math.floor(now / 1000),
    verified.ok ? sendKey(verified.claims) : undefined,
  );
  const ownCount = { seen: 0, bought: 0 };
  const allowed = (id: string) => !own.seen.has(id) && !own.bought.has(id);
  // as opens show them now (a new arrival the model does not know yet: from its live fields)
  const named = namedItem(itemLookup(modelState), live);
  const pinned = [...new Set(rules.pinned ?? [])].flatMap((id) => {
    const item = showable(id) ? named(id) : null;
    return item ? [item] : [];
  });
  const tagsOf = (id: string) => overlayOf(live, id)?.tags;
  const candidates = wide.items.flatMap((item, i) => {
    if (allowed(item.id)) return [{ item, score: wide.scores?.[i] ?? -i }];
    if (own.seen.has(item.id)) ownCount.seen++;
    else ownCount.bought++;
    return [];
  });
  // exclusions that leave too few: popular items the same rules allow fill in, under the category cap first
  const isOut = excludes(rules);
  /** whether the rules allow a popular item (as it is now: its live fields laid over it) */
  const fits = (item: CatalogItem) => showable(item.id) && allowed(item.id) && !isOut(item);
  const fill: Fill = (taken, short, room) => {
    if (!catalog) return [];
    // what each category's cap leaves, counted down as the fill takes: a catalog of one big category is searched
    // past it for the others, instead of relaxing the cap over the first popular items
    const hasRoom = withinRoom(room);
    return mostPopular(catalog, candidatesFor(short), (it) => {
      if (taken.has(it.id)) return false;
      const item = liveItem(it, overlayOf(live, it.id));
      return fits(item) && hasRoom(item.category);
    }).map((item, rank) => ({ item: liveItem(item, overlayOf(live, item.id)), score: -rank }));
  };
  const chosen = applyItemRules(candidates, rules, input.n, pinned, tagsOf, fill);
  chosen.applied.seen += ownCount.seen;
  chosen.applied.excluded += ownCount.bought;
  return {
    ...wide,
    items: chosen.items.map((c) => c.item),
    scores: wide.scores ? chosen.items.map((c) => c.score) : null,
    rules: chosen.applied,
    more: popularMore(loaded, fits),
  };
}

/**
 * A recommendation's `more`: the most popular items `keep` allows as they are now (live fields laid over them),
 * none the live catalog hides; the stored fallback items when no model catalog is at hand.
 */
function popularMore(input: Loaded, keep: (item: CatalogItem) => boolean): MoreItems {
  return async (taken, count) => {
    const [modelState, live] = await Promise.all([input.loads.model, input.loads.live]);
    const catalog = modelState.ok ? modelState.model.catalog : modelState.catalog;
    const current = (it: CatalogItem) => liveItem(it, overlayOf(live, it.id));
    const ok = (it: CatalogItem) => !taken.has(it.id) && !live.unavailable.has(it.id) && keep(current(it));
    if (catalog) return mostPopular(catalog, count, ok).map(current);
    const fallback = await getFallbackItems(input.kv);
    return (fallback?.items ?? []).filter(ok).slice(0, count).map(current);
  };
}

/**
 * The `n` most popular items `keep` allows, stopping there (the popular list can hold the whole catalog); each once,
 * as the catalog's schema (core/catalog.ts) made the list when the version loaded.
 */
function mostPopular(
  catalog: { items: CatalogItem[]; popular: number[] },
  n: number,
  keep: (item: CatalogItem) => boolean,
): CatalogItem[] {
  const out: CatalogItem[] = [];
  for (const index of catalog.popular) {
    if (out.length === n) break;
    const item = catalog.items[index];
    if (item && keep(item)) out.push(item);
  }
  return out;
}

/** How wide a ranking `recommend` makes for `n` items under `rules`: the block's conditions rank this wide. */
export function rankingWidth(n: number, rules: ItemRules | undefined): number {
  return rules && hasEffect(rules) ? candidatesFor(n) : n;
}

type Loaded = RecommendInput & { verified: TokenResult; now: number; loads: OpenLoads };

/** The model's ranking of `n` items, made once per open: a wider one made before answers with its start. */
function rankOnce(input: Loaded, n: number): Promise<Recommendation> {
  const ranked = input.loads.ranked;
  for (const [width, rec] of ranked) {
    if (width >= n) return width === n ? rec : rec.then((r) => firstOf(r, n));
  }
  const rec = rank({ ...input, n });
  ranked.set(n, rec);
  return rec;
}

function firstOf(rec: Recommendation, n: number): Recommendation {
  return { ...rec, items: rec.items.slice(0, n), scores: rec.scores ? rec.scores.slice(0, n) : rec.scores };
}

/** Rules that change nothing (`{}`, empty lists) cost no wider ranking. */
function hasEffect(rules: ItemRules): boolean {
  const ex = rules.exclude;
  return (
    (rules.pinned?.length ?? 0) > 0 ||
    rules.maxPerCategory !== undefined ||
    rules.frequencyCap !== undefined ||
    ex?.boughtWithinDays !== undefined ||
    Object.keys(rules.boost?.categories ?? {}).length + Object.keys(rules.boost?.tags ?? {}).length > 0 ||
    ex?.priceMin !== undefined ||
    ex?.priceMax !== undefined ||
    (ex?.categories?.length ?? 0) + (ex?.ids?.length ?? 0) > 0
  );
}

async function rank(input: Loaded): Promise<Recommendation> {
  const { kv, config, n, now } = input;
  const token = input.verified;
  // the erasure tombstone (one key), read beside the model and the profile; unknown (a failed read) records
  // nothing either. Tombstones from before core/erasure-key.ts are asked for only where no profile is found.
  const erased = token.ok ? erasedOrUnknown(() => hasTombstone(kv, token.claims.u)) : Promise.resolve(null);
  const erasedLegacy = (user: string) => erasedOrUnknown(() => hasLegacyTombstone(kv, user, config.tokenSecrets));
  const [modelState, live] = await Promise.all([input.loads.model, input.loads.live]);
  let recordable = false;
  const generic = async (reason: RecsReason, exclude: ReadonlySet<string> = new Set()): Promise<Recommendation> => {
    const catalog = modelState.ok ? modelState.model.catalog : modelState.catalog;
    const version = modelState.ok ? modelState.model.manifest.version : (modelState.version ?? null);
    const shown = (it: CatalogItem | undefined): it is CatalogItem =>
      !!it && !exclude.has(it.id) && !live.unavailable.has(it.id);
    if (catalog) {
      const items = mostPopular(catalog, n, shown).map((it) => liveItem(it, overlayOf(live, it.id)));
      return { items, reason, scorer: "popular", modelVersion: version, recordable, withheld: exclude };
    }
    const fallback = await getFallbackItems(kv);
    return {
      items:
        fallback?.items
          .filter(shown)
          .slice(0, n)
          .map((it) => liveItem(it, overlayOf(live, it.id))) ?? [],
      reason: fallback ? reason : `${reason}${NO_FALLBACK_SUFFIX}`,
      scorer: "popular",
      modelVersion: null,
      recordable,
      withheld: exclude,
    };
  };

  if (!token.ok) return generic(`token-${token.reason}`);
  if (!modelState.ok) {
    // the profile still says what the reader allows: a reader with tracking off gets no decision stored (nor an open
    // recorded) because the model failed, and one with personalization off is told so, as below
    const [current, profileRead] = await Promise.all([erased, profileOnce(input.loads, kv, token.claims.u)]);
    const missing = !profileRead.ok && profileRead.reason === "profile-missing";
    const gone = current === false && missing ? await erasedLegacy(token.claims.u) : current;
    if (gone !== false) return gone ? generic("erased") : generic(modelState.reason);
    recordable = profileRead.ok ? profileRead.profile.consent.tracking : missing;
    if (profileRead.ok && !profileRead.profile.consent.personalization) return generic("opted-out");
    // what the reader bought recently is withheld as with a model (pinned items, product blocks, the exclusion
    // rule), and the campaign's rules read their history (frequency cap, bought within N days): a cold isolate's
    // opens, while its model loads, must not show them
    if (!profileRead.ok) return generic(modelState.reason);
    const history = profileRead.profile;
    // a campaign's conditions know the reader's own facts (engagement, purchases, topics) as with a model, so a
    // buyer is not served a block for new readers while it loads; its outputs (segment, scores) are unknown
    const reader = input.personalize === false ? undefined : { profile: history, outputs: NO_MODEL_OUTPUTS };
    return { ...(await generic(modelState.reason, excluded(history, config, now))), history, reader };
  }
  const model = modelState.model;

  const version = model.manifest.version;
  const [profileRead, features, current] = await Promise.all([
    profileOnce(input.loads, kv, token.claims.u),
    readFeatures(kv, token.claims.u, version),
    erased,
  ]);
  const read = { profile: profileRead, features };
  const missing = !read.profile.ok && read.profile.reason === "profile-missing";
  const gone = current === false && missing ? await erasedLegacy(token.claims.u) : current;
  // an erased reader: nothing read about them is used (features a seed wrote since, say), nothing recorded
  if (gone) return generic("erased");
  recordable = gone === false && (read.profile.ok ? read.profile.profile.consent.tracking : missing);
  // an unreadable profile may hold an opt-out: only a missing one may be personalized from features alone
  if (!read.profile.ok && (!missing || !read.features)) return generic(read.profile.reason);
  const profile = read.profile.ok ? read.profile.profile : emptyProfile(token.claims.u, new Date(now).toISOString());
  if (!profile.consent.personalization) return generic("opted-out");
  if (input.personalize === false) return generic("experiment-popular");
  const bought = excluded(profile, config, now);
  // never shown: what the reader bought (the exclusion rule) and what the live catalog hides now
  const exclude = exclusionFor(model, bought, live);
  const outputs = modelOutputs(read.profile.ok ? profile : null, read.features, version);
  // what is known of the reader is used (campaign conditions) only when they are known not to be erased
  const reader = gone === false ? { profile, outputs } : undefined;
  let scoreStart = 0;
  const personalized = (
    top: { items: CatalogItem[]; scores: number[]; ranking?: Ranking },
    scorer: Scorer,
  ): Recommendation => ({
    ...top,
    reason: "personalized",
    scorer,
    scoreMs: performance.now() - scoreStart,
    modelVersion: version,
    excluded: bought.size,
    recordable,
    withheld: bought,
    reader,
  });
  const known = async (reason: RecsReason): Promise<Recommendation> => ({ ...(await generic(reason, bought)), reader });

  scoreStart = performance.now();
  try {
    // behaviour the model has not seen (a new reader, or events after training): fold it in
    const params = model.manifest.foldIn;
    // (only what fold-in reads: an email open after the window is no news to the model, and leaves the ranker)
    const news = params !== undefined && hasNews(profile, model.itemIndex, params);
    let folded: Float32Array | null = null;
    if (model.foldIn && params && (!outputs.factors || news)) {
      folded = foldIn(model.foldIn, params, profileInteractions(profile, model.itemIndex, params));
    }
    if (!outputs.factors && !folded) return known("profile-no-factors-for-model");
    const vector = folded ?? storedVector((outputs.factors as NonNullable<typeof outputs.factors>).vector);
    if (!vector || !allFinite(vector) || vector.length !== model.manifest.dims) return known("profile-factor-dims");
    if (folded) return personalized(await alsTopK(model, vector, n, exclude, live), "als-foldin");
    // a content vector that cannot be read leaves the reader to ALS alone, as one of another length does
    const content = outputs.contentVector ? storedVector(outputs.contentVector.vector) : null;
    if (model.manifest.hybrid && model.content && content && content.length === model.manifest.content?.dims) {
      const pool = read.features?.model === version ? read.features.pool : null;
      const ranked = await hybrid(model, profile, { als: vector, content, pool }, config, n, exclude, now, live);
      return personalized(ranked, ranked.scorer);
    }
    return personalized(await alsTopK(model, vector, n, exclude, live), "als");
  } catch (e) {
    logEvent("error", "recs.scoring_failed", { version, detail: errorMessage(e) });
    return known("scoring-error");
  }
}

/**
 * A vector as stored (base64 of float32), or null when it is not base64 or holds a value that is not finite: a NaN or
 * an Infinity in it makes every item's score NaN, and the graphs then rank the items by their index.
 */
function storedVector(b64: string): Float32Array | null {
  let vector: Float32Array;
  try {
    vector = base64ToFloat32(b64);
  } catch {
    return null;
  }
  return allFinite(vector) ? vector : null;
}

function allFinite(vector: Float32Array): boolean {
  return vector.every((v) => Number.isFinite(v));
}

/** Whether the reader was erased; null when the tombstone could not be read (logged). */
async function erasedOrUnknown(check: () => Promise<boolean>): Promise<boolean | null> {
  try {
    return await check();
  } catch (e) {
    logEvent("error", "erasure.read_failed", { detail: errorMessage(e) });
    return null;
  }
}

/** Items not to show: all own purchases in `novel` mode, else those inside the exclusion window. */
function excluded(profile: Profile, config: Config, now: number): Set<string> {
  if (config.recsMode === "novel") return new Set(profile.purchases.map((p) => p.item));
  if (config.excludePurchasedDays <= 0) return new Set();
  const since = now / 1000 - config.excludePurchasedDays * DAY_SECONDS;
  return new Set(profile.purchases.filter((p) => p.lastTs >= since).map((p) => p.item));
}

/** Past this many excluded items, every item is scored and the excluded skipped in one pass (no top-k that wide). */
const WIDE_EXCLUSION = 256;

async function alsTopK(model: LoadedModel, vector: Float32Array, n: number, exclude: Exclusion, live: LiveCatalogView) {
  if (exclude.inModel > WIDE_EXCLUSION) {
    const { scores } = await model.session.itemScores(vector);
    return pick(model, topK(scores, n, exclude.hasIndex), n, exclude, live);
  }
  const k = Math.min(model.manifest.itemCount, n + exclude.inModel);
  return pick(model, await model.session.topK(vector, k), n, exclude, live);
}

/** Top-k indices -> the first `n` catalog items not excluded, as they are now (live fields), with their scores. */
function pick(
  model: LoadedModel,
  top: { indices: ArrayLike<number>; scores: ArrayLike<number> },
  n: number,
  exclude: Exclusion,
  live: LiveCatalogView,
): { items: CatalogItem[]; scores: number[] } {
  const items: CatalogItem[] = [];
  const scores: number[] = [];
  for (let rank = 0; rank < top.indices.length && items.length < n; rank++) {
    const item = model.catalog.items[top.indices[rank] as number];
    if (item && !exclude.hasId(item.id)) {
      items.push(liveItem(item, overlayOf(live, item.id)));
      scores.push(top.scores[rank] as number);
    }
  }
  return { items, scores };
}

/**
 * A model's item priors per statistics and weight set (core/hybrid.ts itemPriors), made on its first open: they
 * never change while it serves, and go with its manifest.
 */
const priors = new WeakMap<ItemStats, WeakMap<LinearWeights, Float64Array>>();

function priorsOf(weights: LinearWeights, stats: ItemStats): Float64Array {
  let byWeights = priors.get(stats);
  if (!byWeights) {
    byWeights = new WeakMap();
    priors.set(stats, byWeights);
  }
  let p = byWeights.get(weights);
  if (!p) {
    p = itemPriors(weights, stats);
    byWeights.set(weights, p);
  }
  return p;
}

/** What the reader's features hold for this version: their ALS and content vectors, and their pool if made. */
interface ReaderVectors {
  als: Float32Array;
  content: Float32Array;
  /** stored form (core/reader-pool.ts) */
  pool: string | null;
}

/**
 * Every item scored by the hybrid's logits; where the version's ranker serves this mode, its candidates (core/
 * ranker.ts) are ranked by its trees instead, and the hybrid's order fills what exclusions leave short. A reader
 * with a pool the ranker can use is ranked from it alone: the same answer, without scoring the catalog.
 */
async function hybrid(
  model: LoadedModel,
  profile: Profile,
  reader: ReaderVectors,
  config: Config,
  n: number,
  exclude: Exclusion,
  now: number,
  live: LiveCatalogView,
): Promise<{ items: CatalogItem[]; scores: number[]; scorer: "ranker" | "hybrid"; ranking: Ranking }> {
  const h = model.manifest.hybrid as NonNullable<LoadedModel["manifest"]["hybrid"]>;
  const own = ownItems(profile.purchases, model.itemIndex);
  // the version's ranker, when it serves this mode
  const trees = model.ranker?.models[config.recsMode];
  const at = Math.floor(now / 1000);
  const weights = h[config.recsMode];
  const neighbours = model.neighbours;
  // the reader's pool (core/reader-pool.ts) answers for the ranker or the hybrid without the graphs, when it can: not
  // when the hybrid weighs neighbour sums whose table did not load (the pool holds the best by the whole logit)
  const pool =
    reader.pool && (neighbours || neighboursWeight(weights) === 0)
      ? decodePool(reader.pool, model.manifest.itemCount)
      : null;
  if (pool) {
    const ranker = model.ranker;
    const ranked =
      trees && ranker
        ? rankFromPool(pool, { own, now: at, neighbours, stats: ranker.stats, weights }, config, trees, n, exclude)
        : poolHybridTop(pool, { own, now: at, neighbours, stats: h.itemStats, weights }, n, exclude.hasIndex);
    if (ranked)
      return { ...pick(model, ranked, n, exclude, live), scorer: trees ? "ranker" : "hybrid", ranking: "pool" };
  }
  // for the ranker, the graphs' own top-k gives its ALS and content candidates (wide enough to skip the own items
  // `novel` mode leaves out): no pass over the catalog for them in JS. A reader with very many own items gets that
  // pass instead (core/ranker.ts), not a graph sorting most of the catalog.
  const skipped = config.recsMode === "novel" ? own.length : 0;
  const wide = (k: number) =>
    trees && skipped <= WIDE_EXCLUSION ? Math.min(model.manifest.itemCount, k + skipped) : 0;
  const [byAls, byContent] = await Promise.all([
    model.session.itemScores(reader.als, wide(CANDIDATES.als)),
    (model.content as NonNullable<LoadedModel["content"]>).itemScores(reader.content, wide(CANDIDATES.content)),
  ]);
  const als = byAls.scores;
  const content = byContent.scores;
  // one map of neighbour sums for the hybrid's logits and the ranker's candidates
  const sums = ownNeighbourSums(neighbours, own);
  const scores = hybridScores(weights, own, at, als, content, sums, h.itemStats, priorsOf(weights, h.itemStats));
  const byHybrid = () => topK(scores, n, exclude.hasIndex);
  if (!trees || !model.ranker)
    return { ...pick(model, byHybrid(), n, exclude, live), scorer: "hybrid", ranking: "catalog" };
  const inputs = {
    own,
    now: at,
    als,
    content,
    neighbours,
    sums,
    stats: model.ranker.stats,
    hybrid: scores,
    tops: { als: byAls.top, content: byContent.top },
  };
  const candidates = rankerCandidates(inputs, config.recsMode);
  const ranked = rankCandidates(trees, candidates, n, () => byHybrid().indices, exclude.hasIndex);
  return { ...pick(model, ranked, n, exclude, live), scorer: "ranker", ranking: "catalog" };
}

/**
 * The ranker's answer from the reader's pool (core/reader-pool.ts), or null where the pool cannot give the
 * catalog's: it was made from other own items, or exclusions leave fewer than `n` of its candidates (the hybrid's
 * order then fills, which needs every item's score).
 */
function rankFromPool(
  pool: ReaderPool,
  parts: PoolRanking,
  config: Config,
  trees: CompiledEnsemble,
  n: number,
  exclude: Exclusion,
): { indices: number[]; scores: number[] } | null {
  const candidates = poolCandidates(pool, parts, config.recsMode);
  if (!candidates) return null;
  let left = 0;
  for (const j of candidates.items) if (!exclude.hasIndex(j)) left++;
  if (left < n) return null;
  return rankCandidates(trees, candidates, n, () => [], exclude.hasIndex);
}
