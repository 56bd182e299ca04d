/**
 * The block of a campaign an open is served (core/block-selection.ts), and its content: the facts the
 * campaign's conditions test are gathered (only those it tests: the open's from the request, the reader's and
 * the model's from one ranking, which the served block then reuses), the first block whose condition holds
 * is chosen, and it answers: recommendations under the block's item rules, the static block's picture, or the
 * product block's product as it is now (skipped while the live catalog hides it).
 * Never throws (recommend does not).
 */
import { explainSelection, factsNeeded, PRIVATE_FACTS, type Selection, selectBlock } from "../../core/block-selection";
import { calibrated } from "../../core/calibration";
import { type Block, type Campaign, countdownItem, staticItem } from "../../core/campaign";
import type { CatalogItem } from "../../core/catalog";
import type { Facts } from "../../core/conditions";
import type { TokenResult } from "../../core/token";
import { namedItem } from "../catalog/live-catalog";
import type { Config } from "../env";
import type { WaitUntil } from "../lib/background";
import { itemLookup } from "../model/item-lookup";
import type { ModelState } from "../model/model-store";
import { pinnedModel } from "../model/pinned-model";
import { type OpenLoads, openLoads, type Recommendation, rankingWidth, recommend } from "../recs/recommend";
import { liveCategories, readerFacts } from "./reader-facts";

export interface ServeBlockInput {
  kv: KVNamespace;
  config: Config;
  token: string | undefined;
  verified: TokenResult;
  /** the token's campaign (the defaults for a token that does not verify) */
  campaign: Campaign;
  n: number;
  /** the open's facts (open-facts.ts) */
  open: Facts;
  /** unix milliseconds */
  now: number;
  /** the model and live catalog read once for many readers (send-time answers); each open reads its own */
  shared?: Pick<OpenLoads, "model" | "live">;
  /** what the open already read (its experiment's arm read the reader's profile): used instead of `shared` */
  loads?: OpenLoads;
  /** false: an experiment's popular arm (recommend.ts) */
  personalize?: boolean;
  /** the request's: a model load this block starts outlives its response (worker/model/model-store.ts) */
  waitUntil: WaitUntil;
}

export interface ServedBlock {
  selection: Selection;
  /** the selection as one line, without the values of the reader's facts (`X-Opentime-Block`, the stored decision) */
  explanation: string;
  /** the same with every value (the preview asks for it; an open never does) */
  detail: () => string;
  rec: Recommendation;
  /** the facts the conditions were tested on (the preview shows them) */
  facts: Facts;
}

export async function serveBlock(input: ServeBlockInput): Promise<ServedBlock> {
  const { campaign, n, now, verified } = input;
  const loads =
    input.loads ??
    (input.shared ? { ...input.shared, ranked: new Map() } : openLoads(input.kv, input.config, now, input.waitUntil));
  // a campaign (an experiment's variant) held on a model version: scored with that one (pinned-model.ts)
  if (campaign.model) loads.model = pinnedModel(input.kv, campaign.model, loads.model, now, input.waitUntil);
  const base = {
    kv: input.kv,
    config: input.config,
    token: input.token,
    verified,
    now,
    loads,
    personalize: input.personalize,
  };
  let facts: Facts = { ...input.open };
  const personal = [...factsNeeded(campaign)].some((f) => PRIVATE_FACTS.has(f));
  // a product block is served only while its product can be shown, and never one the reader just bought
  const hasProducts = campaign.blocks.some((b) => b.type === "product");
  let withheld: ReadonlySet<string> | undefined;
  if ((personal || hasProducts) && verified.ok) {
    // one ranking as wide as any block needs: the reader's data, the top score and what their purchases
    // withhold come from it, and the block served takes its items from it without ranking again
    const width = Math.max(
      n,
      ...[...campaign.blocks, campaign.default].map((b) =>
        b.type === "recommendations" ? rankingWidth(n, b.items) : n,
      ),
    );
    const [first, model] = await Promise.all([recommend({ ...base, n: width }), loads.model]);
    withheld = first.withheld;
    if (personal) {
      const categoryOf = liveCategories(itemLookup(model), await loads.live);
      facts = {
        ...facts,
        ...readerFacts(first.reader, campaign, categoryOf, now),
        topProbability: topProbability(first, model),
      };
    }
  }
  // looked up as the open's ranking sees it (the live catalog's fields over the model's catalog)
  const products = hasProducts ? namedItem(itemLookup(await loads.model), await loads.live) : () => null;
  // why a product block is skipped: headers and stored decisions give one reason for the catalog's and the
  // reader's, so that they never tell what the reader bought; the preview tells which
  const unservable = (reveal: boolean) => (b: Block) => {
    if (b.type !== "product") return null;
    if (!products(b.item)) return reveal ? `product ${b.item} unavailable` : `product ${b.item} not shown`;
    if (!withheld?.has(b.item)) return null;
    return reveal ? `product ${b.item} bought recently` : `product ${b.item} not shown`;
  };
  const selection = selectBlock(campaign, facts, undefined, unservable(false));
  const block = selection.block;
  let rec: Recommendation;
  if (block.type === "recommendations") rec = await recommend({ ...base, n, rules: block.items });
  else {
    // the same content for everyone; the ranking still says whether the open may be recorded
    const known = await recommend({ ...base, n });
    const item =
      block.type === "static"
        ? staticItem(block)
        : block.type === "countdown"
          ? countdownItem(block, now)
          : (products(block.item) as CatalogItem);
    // (one item for every slot of an image block: no more to fill them with)
    rec = {
      ...known,
      items: [item],
      scores: null,
      scorer: "static",
      ranking: undefined,
      rules: undefined,
      excluded: 0,
      more: undefined,
    };
  }
  return {
    selection,
    explanation: explainSelection(selection),
    detail: () => explainSelection(selectBlock(campaign, facts, new Set(), unservable(true))),
    rec,
    facts,
  };
}

/** The top item's score as a calibrated probability; unknown without a personalized ranking or a calibration. */
function topProbability(rec: Recommendation, model: ModelState): number | null {
  const score = rec.scores?.[0];
  if (rec.reason !== "personalized" || score === undefined || !model.ok || rec.scorer === "popular") return null;
  if (rec.scorer === "static") return null;
  const fit = model.model.manifest.calibration?.[rec.scorer];
  return fit ? calibrated(fit, score) : null;
}
