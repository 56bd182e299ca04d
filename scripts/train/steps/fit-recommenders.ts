/**
 * Training step 2: refit the recommenders on the whole window with what step 1 chose (ALS; for purchase logs
 * content, EASE's neighbour table, which the hybrid and the ranker read, and the hybrid's parts), quantize their item
 * tables to int8 and build their ONNX graphs. The version is content-addressed: a hash of the graphs, the trees,
 * the tuned weights, and the training set, catalog and code they came from (training-fingerprint.ts).
 */
import { createHash } from "node:crypto";
import { type QuantizedItems, quantizeItems } from "../../../core/int8-kernel";
import { encodeNeighbours, type NeighbourTable } from "../../../core/neighbour-table";
import { buildScoringGraph } from "../../export/onnx-graph";
import { ImplicitAls } from "../als";
import { ContentLsa } from "../content";
import { Ease } from "../ease";
import { HybridRecommender } from "../hybrid";
import { CandidateRanker, NEIGHBOURS_K, type RankerChoice } from "../ranker";
import { fingerprintTrainingSet } from "../training-fingerprint";
import type { TrainingSet } from "../training-set";
import type { Tuned } from "./tune-on-validation";

export interface Recommenders {
  version: string;
  als: ImplicitAls;
  alsItems: QuantizedItems;
  alsOnnx: Uint8Array;
  /** content and the hybrid: purchase logs only */
  content: ContentLsa | null;
  contentItems: QuantizedItems | null;
  contentOnnx: Uint8Array | null;
  hybrid: HybridRecommender;
  /** the learned ranker over the full window's components, with its neighbour table's stored bytes */
  ranker: { ranker: CandidateRanker; neighbours: Uint8Array; k: number; choice: RankerChoice } | null;
}

export function fitRecommenders(ts: TrainingSet, tuned: Tuned, log: (msg: string) => void): Recommenders {
  const full = ts.full;
  const als = new ImplicitAls(tuned.alsOptions);
  als.fit(full.data);
  const n = full.itemIds.length;
  const alsItems = quantizeItems(als.itemFactors, n, als.options.factors);
  let content: ContentLsa | null = null;
  let contentItems: QuantizedItems | null = null;
  if (ts.source === "purchases") {
    content = new ContentLsa();
    content.fit(full.data);
    contentItems = quantizeItems(content.itemVectors, n, content.dims);
  }
  // EASE's neighbour table, which the hybrid's neighbour sums and the ranker both read
  let table: NeighbourTable | null = null;
  if (content && tuned.ranker) {
    const ease = new Ease({ lambda: tuned.ranker.easeLambda });
    ease.fit(full.data);
    table = ease.neighbours(NEIGHBOURS_K);
  }
  const hybrid = new HybridRecommender(tuned.alsOptions, {}, full.end);
  if (content) {
    hybrid.fitWith(full.data, als, content, table);
    hybrid.weights = tuned.weights;
  }
  let ranker: Recommenders["ranker"] = null;
  if (table && tuned.ranker) {
    const r = new CandidateRanker();
    r.fitWith(hybrid);
    r.models = tuned.ranker.models;
    ranker = { ranker: r, neighbours: encodeNeighbours(table), k: table.k, choice: tuned.ranker.choice };
  }
  const version = `als-${fingerprintTrainingSet(createHash("sha256"), ts)
    .update(buildScoringGraph(alsItems, "pending"))
    .update(contentItems ? buildScoringGraph(contentItems, "pending") : new Uint8Array())
    .update(ranker ? JSON.stringify(ranker.ranker.models) : "")
    .update(ranker ? ranker.neighbours : new Uint8Array())
    // the tuned weights (the training set, the catalog and the code are in the fingerprint)
    .update(JSON.stringify({ hybrid: content ? hybrid.weights : null, als: tuned.alsOptions }))
    .digest("hex")
    .slice(0, 12)}`;
  const alsOnnx = buildScoringGraph(alsItems, version);
  const contentOnnx = contentItems ? buildScoringGraph(contentItems, version, "opentime_content_int8") : null;
  log(`trained ALS${content ? ", content and hybrid" : ""}${ranker ? ", ranker" : ""}: version ${version}`);
  return { version, als, alsItems, alsOnnx, content, contentItems, contentOnnx, hybrid, ranker };
}
