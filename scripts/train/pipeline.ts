/**
 * `npm run train`: a short list of named steps (scripts/train/steps/): load the log -> tune on the validation
 * split (ALS grid, hybrid weights, calibration) -> refit the recommenders on the whole window, quantize, build
 * their graphs -> engagement models (segments, send time, propensity) -> reader profiles and pools -> drift reference ->
 * golden cases -> manifest -> write `<out>/<version>/`. The version is content-addressed.
 */
import { NO_CURRENCY } from "../../core/campaign";
import type { Catalog } from "../../core/catalog";
import type { ModelManifest } from "../../core/manifest";
import { crowdedCustomerWarning } from "../data/log-checks";
import { NO_TIME_COLUMN, NOT_A_PURCHASE } from "../data/purchase-log";
import { rowLengths } from "../data/sparse";
import { checkOut } from "../lib/out-dir";
import type { AlsOptions } from "./als";
import { trainingDriftReference } from "./drift-reference";
import { Popularity } from "./popularity";
import { fitEngagement } from "./steps/fit-engagement";
import { fitRecommenders } from "./steps/fit-recommenders";
import { goldenCases } from "./steps/golden-cases";
import { modelManifest } from "./steps/model-manifest";
import { readerPools } from "./steps/reader-pools";
import { readerProfiles } from "./steps/reader-profiles";
import { tuneOnValidation } from "./steps/tune-on-validation";
import { writeModel } from "./steps/write-model";
import { loadTrainingSet, type TrainingSet, type TrainingSetOptions, type Window } from "./training-set";

export type { Golden, GoldenCase } from "../../core/golden";

export interface TrainOptions extends TrainingSetOptions {
  out: string;
  /** ALS options; with `tune` the grid's alpha/regularization override these */
  als?: Partial<AlsOptions>;
  /** tune on the validation split (default true) */
  tune?: boolean;
  /**
   * store each reader's pool with their features (default true, with a ranker): opens then rank without scoring
   * the catalog; costs a pass over the catalog per reader here (core/reader-pool.ts)
   */
  pools?: boolean;
  goldenUsers?: number;
  log?: (msg: string) => void;
}

export interface TrainResult {
  dir: string;
  manifest: ModelManifest;
  profiles: number;
}

export async function trainAndExport(opts: TrainOptions): Promise<TrainResult> {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  await checkOut(opts.out);
  log(`reading ${opts.data}`);
  const ts = await loadTrainingSet(opts);
  const { full } = ts;
  log(`read ${ts.read} rows of ${opts.data}; dropped ${droppedList(ts.dropped)}`);
  if (ts.source === "events") for (const line of eventPurchases(ts, opts.data)) log(line);
  log(
    `${ts.source} log: ${full.userIds.length} users, ${full.itemIds.length} items, ${full.data.matrix.indices.length} user-item pairs`,
  );
  const crowded = crowdedCustomerWarning(opts.data, full.userIds, rowLengths(full.data.matrix), "user-item pairs");
  if (crowded) log(`warning: ${crowded}`);
  // what a log alone cannot give: an email's card of such an item has no picture, and its click goes to the shop's home
  const bare = ts.catalog.filter((c) => !c.image || !c.url).length;
  if (bare > 0)
    log(
      `${bare} of ${ts.catalog.length} items have no picture or no link (${opts.catalog ? `not in ${opts.catalog}, or it gives none` : "no --catalog"}): ` +
        "their cards show none, and a click on one goes to the shop's home (SHOP_URL); --catalog products.json gives them",
    );
  const unpriced = ts.catalog.filter((c) => c.currency === NO_CURRENCY).length;
  if (unpriced > 0)
    log(
      `${unpriced} of ${ts.catalog.length} items have no price (an event log gives none${opts.catalog ? `, and ${opts.catalog} does not list them` : ""}): their cards show none; --catalog products.json gives them`,
    );
  const end = full.end + 1;
  const tuned = await tuneOnValidation(ts, opts, log);
  const recs = fitRecommenders(ts, tuned, log);
  const engagement = fitEngagement(ts.purchases, end, log);
  const profiles = readerProfiles(ts, recs, engagement);
  const poolsStarted = performance.now();
  const pools = opts.pools === false ? new Map<string, string>() : await readerPools(recs, full.itemIds, profiles);
  if (pools.size > 0)
    log(`pools for ${pools.size} readers in ${((performance.now() - poolsStarted) / 1000).toFixed(1)} s`);
  // the readers' feature distributions now, for the drift job (every event lies before `end`)
  const reference = trainingDriftReference(profiles, recs.alsItems, Math.ceil(end), engagement.propensityCalibration);
  const golden = goldenCases(full, recs, profiles, pools, opts.goldenUsers ?? 24);
  const catalog: Catalog = { items: ts.catalog, popular: popularOrder(full).slice(0, POPULAR_KEPT) };
  const manifest = modelManifest(ts, tuned, recs, engagement, reference, (performance.now() - started) / 1000);
  const dir = await writeModel(opts.out, { recs, engagement, manifest, catalog, golden, profiles, pools }, log);
  return { dir, manifest, profiles: profiles.length };
}

/**
 * How much of the popularity order the catalog keeps: what fills an answer the rules leave short, and every answer
 * while no model serves, passing over the items a block's rules exclude (a price floor, a category left out), so
 * far more than a block's length (200 left a luxury block of a shop whose best sellers are cheap short). 10,000
 * indices are about 60 KB of the catalog's JSON.
 */
const POPULAR_KEPT = 10_000;

/** `dropped`'s reasons, the commonest first: `3 bad time, 1 missing item`, or `none`. */
const droppedList = (dropped: Record<string, number>) => {
  const reasons = Object.entries(dropped).sort(([, a], [, b]) => b - a);
  return reasons.length ? reasons.map(([why, n]) => `${n} ${why}`).join(", ") : "none";
};

/**
 * What an event log's purchases came to (its rows of type `purchase`, read apart from its interactions): histories,
 * segments, send time and propensity come from them, so the rows the purchase reader drops are said as the
 * interactions' are; with a warning when a log mapped without time leaves every purchase out.
 */
function eventPurchases(ts: TrainingSet, path: string): string[] {
  const p = ts.purchases;
  // the purchase reader read every row of the file (an event log has some: checkInteractionsLeft), or none when the
  // log is mapped without type (training-set.ts)
  if (p.read === 0)
    return [
      "purchases: none (the log is mapped without type, and its rows are no purchases: --map ...,type=<column> names them)",
    ];
  const { [NOT_A_PURCHASE]: others = 0, ...dropped } = p.dropped;
  const typed = p.read - others;
  const lines = [
    "purchases (the rows of type purchase; histories, segments, send time and propensity come from them): " +
      `${p.rows} of ${typed} kept; dropped ${droppedList(dropped)}`,
  ];
  const timeless = dropped[NO_TIME_COLUMN] ?? 0;
  if (timeless > 0)
    lines.push(
      `warning: the ${timeless} purchases of ${path} have no time (--map names no time column), which purchase ` +
        "histories, segments, send time and propensity need: no profile holds a purchase; map one (--map ...,time=<column>)",
    );
  return lines;
}

function popularOrder(w: Window): number[] {
  const pop = new Popularity();
  pop.fit(w.data);
  return pop.ranking();
}
