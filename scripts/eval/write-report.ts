/** Writes report.md (tables) and its SVG charts from an evaluation run: `npm run evaluate`'s document as a reader reads it. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PurchaseLog } from "../data/purchase-log";
import type { ProtocolMetrics } from "../ranking/evaluate-recommender";
import { customerFeatures, logRfm } from "../segments/rfm";
import type { EngagementSuite } from "./engagement-suite";
import { LEAD_DRAWS } from "./lead-interval";
import type { EvaluationDocument } from "./run-evaluation";
import { calibrationCurve, groupedBars, scatter } from "./svg-charts";

const f4 = (x: number | undefined | null) => (x === undefined || x === null || Number.isNaN(x) ? "n/a" : x.toFixed(4));
const METRICS: (keyof ProtocolMetrics)[] = [
  "ndcg_at_10",
  "ndcg_at_10_se",
  "precision_at_10",
  "recall_at_10",
  "map_at_10",
  "hit_rate_at_10",
  "coverage",
];

export async function writeReport(
  outDir: string,
  doc: EvaluationDocument,
  log: PurchaseLog,
  engagement: EngagementSuite,
  cutoffTs: number,
) {
  await mkdir(join(outDir, "charts"), { recursive: true });
  const names = Object.keys(doc.recommenders);
  await writeFile(
    join(outDir, "charts/ndcg-by-model.svg"),
    groupedBars(
      "NDCG@10 by recommender (test window)",
      names,
      (["all", "novel", "cold"] as const).map((v) => ({
        name: v,
        values: names.map((n) => doc.recommenders[n]?.[v]?.ndcg_at_10 ?? null),
      })),
      "NDCG@10",
    ),
  );
  await writeFile(
    join(outDir, "charts/calibration.svg"),
    calibrationCurve("Purchase propensity: calibration", doc.propensity.calibration),
  );
  const feats = customerFeatures(log, cutoffTs);
  const step = Math.max(1, Math.floor(feats.length / 1500));
  const pts = feats
    .filter((_, i) => i % step === 0)
    .map((fe) => {
      const [r, , m] = logRfm(fe);
      return { x: r, y: m, group: engagement.segmentOfCustomer.get(fe.customer) ?? 0 };
    });
  await writeFile(
    join(outDir, "charts/segments.svg"),
    scatter(
      "Customer segments (K-Means on log-RFM)",
      pts,
      doc.segments.segments.map((s) => s.name),
      "log(1 + recency days)",
      "log(1 + monetary)",
    ),
  );

  const lines: string[] = [];
  const row = (cells: (string | number)[]) => lines.push(`| ${cells.join(" | ")} |`);
  lines.push(`# opentime evaluation: ${doc.protocol}`, "");
  lines.push(
    `Data: \`${doc.data.path}\` (${doc.data.layout}), ${doc.data.rows_read.toLocaleString("en")} rows read, ${doc.data.clean_purchases.toLocaleString("en")} clean purchases. Run time ${doc.seconds} s.`,
    "",
  );
  lines.push("Dropped rows:", "");
  for (const [why, n] of Object.entries(doc.data.dropped)) lines.push(`- ${why}: ${n.toLocaleString("en")}`);
  lines.push("", "## Split", "");
  row(["", "test", "validation (carved from train)"]);
  row(["---", "---", "---"]);
  row(["cutoff", doc.split.cutoff, doc.split.validation.cutoff]);
  row(["train rows", doc.split.train_rows, doc.split.validation.train_rows]);
  row(["candidate items", doc.split.candidate_items, doc.split.validation.candidate_items]);
  row([
    "test users (all / novel)",
    `${doc.split.test_users.all} / ${doc.split.test_users.novel}`,
    `${doc.split.validation.test_users.all} / ${doc.split.validation.test_users.novel}`,
  ]);
  lines.push(
    "",
    `Cold subgroup: ${doc.split.test_users.cold} test users with at most 3 distinct train items (scored as \`all\`).`,
    "",
  );
  lines.push("## Recommenders", "", "![NDCG by model](charts/ndcg-by-model.svg)", "");
  for (const v of ["all", "novel", "cold"] as const) {
    lines.push(`### ${v}`, "");
    row(["recommender", ...METRICS]);
    row(["---", ...METRICS.map(() => "---:")]);
    for (const n of names) {
      const m = doc.recommenders[n]?.[v];
      row([n, ...METRICS.map((k) => (m ? f4(m[k]) : "n/a"))]);
    }
    lines.push("");
  }
  const rc = doc.tuning.ranker;
  lines.push(
    "## Learned ranker vs hybrid",
    "",
    `The ranker (candidates from own items, the hybrid, ALS, content, EASE neighbours of all own items and of the last basket, popular and trending items; gradient-boosted trees over their scores, ranks, item and reader statistics and the items' momentum) is trained on two thirds of the validation readers${rc.windows > 1 ? " and on the readers of the window before validation (over components fitted before that window, less the held-out customers)" : ""}; the other third compares the ranker with the hybrid (refitted without the held-out readers)${rc.forward ? ", the ranker at the tree count chosen forward in time: trees and hybrid weights fitted on the window before validation alone, scored on every validation reader after it, and where the log reaches back that far the same one window earlier (the window before that's trees and weights on the readers of the window before validation), where the two curves' sum peaks (the second table)" : ": it picks the tree count, and the ranker's figure is cross-fitted, each half of that third scored at the tree count the other half picks"}. \`served\` is, per mode, the ranker unless the hybrid leads it on those readers by more than \`margin\` (a one-sided 95% bound of their paired differences) or nothing judged the ranker (no held-out reader, or fewer trees than a checkpoint).`,
    "",
  );
  row(["mode", "held-out readers", "hybrid ndcg@10", "ranker ndcg@10", "margin", "trees", "blend", "served"]);
  row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---"]);
  for (const m of ["all", "novel"] as const) {
    const h = rc.holdout[m];
    row([m, h.users, f4(h.hybrid), f4(h.ranker), f4(h.margin), h.trees, h.blend, rc.chosen[m]]);
  }
  lines.push("");
  if (rc.forward) {
    lines.push(
      "Forward in time (the window before validation's trees and weights, on every validation reader; the ranker's figure cross-fitted over its tree count; it sets the tree count and the blend, the hybrid logit's weight added to the trees' score, and its margin chooses nothing). `picked over` counts the readers the count and blend were picked over: more than the validation readers where the window before validation's readers judged the trees and weights of the window before it too:",
      "",
    );
    row(["mode", "validation readers", "hybrid ndcg@10", "ranker ndcg@10", "margin", "trees", "blend", "picked over"]);
    row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]);
    for (const m of ["all", "novel"] as const) {
      const f = rc.forward[m];
      row([m, f.users, f4(f.hybrid), f4(f.ranker), f4(f.margin), f.trees, f.blend, f.pickedOver]);
    }
    lines.push("");
  }
  if (doc.origins) writeOrigins(lines, row, doc.origins);
  lines.push("## int8 (as exported to ONNX) vs float", "");
  row(["recommender", "variant", "float ndcg@10", "int8 ndcg@10", "relative change"]);
  row(["---", "---", "---:", "---:", "---:"]);
  for (const [n, q] of Object.entries(doc.quantized)) {
    for (const v of ["all", "novel", "cold"] as const) {
      const fl = doc.recommenders[n]?.[v]?.ndcg_at_10;
      const qi = q[v]?.ndcg_at_10;
      if (fl === undefined || qi === undefined) continue;
      row([n, v, f4(fl), f4(qi), `${(((qi - fl) / fl) * 100).toFixed(2)}%`]);
    }
  }
  lines.push("", "ALS hyperparameters, chosen on validation (mean NDCG@10 of all and novel):", "");
  row(["alpha", "regularization", "validation ndcg@10"]);
  row(["---:", "---:", "---:"]);
  for (const t of doc.tuning.als)
    row([String(t.options.alpha), String(t.options.regularization), f4(t.validation_ndcg_at_10)]);
  lines.push("", "EASE's lambda, chosen on validation the same way:", "");
  row(["lambda", "validation ndcg@10"]);
  row(["---:", "---:"]);
  for (const t of doc.tuning.ease) row([String(t.lambda), f4(t.validation_ndcg_at_10)]);
  lines.push(
    "",
    `RP3beta's alpha and beta (${doc.tuning.rp3beta_chosen.k} neighbours per item), chosen on validation the same way:`,
    "",
  );
  row(["alpha", "beta", "validation ndcg@10"]);
  row(["---:", "---:", "---:"]);
  for (const t of doc.tuning.rp3beta)
    row([String(t.options.alpha), String(t.options.beta), f4(t.validation_ndcg_at_10)]);
  lines.push("", "EASE cut to its K strongest neighbours per item (what the edge keeps), on test:", "");
  row(["K", "all ndcg@10", "novel ndcg@10"]);
  row(["---:", "---:", "---:"]);
  for (const t of doc.tuning.ease_neighbours) row([t.k, f4(t.all), f4(t.novel)]);
  row(["all", f4(doc.recommenders.ease?.all?.ndcg_at_10), f4(doc.recommenders.ease?.novel?.ndcg_at_10)]);
  lines.push("", `## Purchase propensity (next ${doc.split.test_days} days)`, "");
  lines.push(
    `AUC **${f4(doc.propensity.auc)}** vs recency alone ${f4(doc.propensity.baseline_auc)}; log loss ${f4(doc.propensity.log_loss)}; ${doc.propensity.positives} of ${doc.propensity.customers} customers bought.`,
    "",
  );
  lines.push(
    `Logistic regression and gradient-boosted trees are both fitted; the one with the lower log loss one horizon earlier is published (**${doc.propensity.chosen}**):`,
    "",
  );
  row(["model", "validation AUC", "validation log loss", "test AUC", "test log loss"]);
  row(["---", "---:", "---:", "---:", "---:"]);
  for (const k of ["logistic", "gbdt"] as const) {
    const v = doc.propensity.validation[k];
    const t = doc.propensity.test[k];
    row([k, f4(v.auc), f4(v.log_loss), f4(t.auc), f4(t.log_loss)]);
  }
  lines.push("", "![calibration](charts/calibration.svg)", "");
  row(["decile", "customers", "mean predicted", "observed rate"]);
  row(["---:", "---:", "---:", "---:"]);
  for (const b of doc.propensity.calibration) row([b.bin, b.count, f4(b.mean_predicted), f4(b.observed_rate)]);
  if (doc.time_to_purchase) writeHazard(lines, row, doc.time_to_purchase, doc.propensity.auc);
  lines.push("", "## Segments", "");
  lines.push(
    `K-Means on standardized log-RFM, k = ${doc.segments.k} chosen by silhouette over 3..10 (silhouette ${f4(doc.segments.silhouette)}).`,
    "",
  );
  lines.push("![segments](charts/segments.svg)", "");
  row(["segment", "customers", "share", "description"]);
  row(["---", "---:", "---:", "---"]);
  for (const s of doc.segments.segments) row([s.name, s.size, `${(s.share * 100).toFixed(1)}%`, s.description]);
  lines.push("", "## Best send time", "");
  const st = doc.send_time;
  row(["", "per customer (smoothed)", "shop-wide baseline"]);
  row(["---", "---:", "---:"]);
  row(["top-3 hour hit rate", f4(st.top3_hit_rate), f4(st.baseline_top3_hit_rate)]);
  row(["mean log-likelihood (hour of week)", f4(st.log_likelihood), f4(st.baseline_log_likelihood)]);
  lines.push(
    "",
    `${st.invoices} test-window invoices of ${st.customers} customers with history. Priors chosen on validation: ${JSON.stringify(st.options)}.`,
    "",
  );
  await writeFile(join(outDir, "report.md"), `${lines.join("\n")}\n`);
}

/** The several-cutoffs section: per origin and mean with spread, the served model's lead, what changes. */
function writeOrigins(
  lines: string[],
  row: (cells: (string | number)[]) => void,
  o: NonNullable<EvaluationDocument["origins"]>,
) {
  lines.push(
    "## Across cutoffs",
    "",
    `The protocol at ${o.cutoffs.length} cutoffs, each ${o.cutoffs.length > 1 ? "a test window earlier than the next" : ""}, each with its own validation split (the window before it) for every choice: ALS grid, EASE lambda, RP3beta's alpha and beta, hybrid weights, the ranker's trees and whether it serves. Nothing is chosen on a test window.`,
    "",
  );
  row(["", ...o.cutoffs.map((c) => c.cutoff)]);
  row(["---", ...o.cutoffs.map(() => "---:")]);
  row(["test until", ...o.cutoffs.map((c) => c.test_until)]);
  row(["train rows", ...o.cutoffs.map((c) => c.train_rows.toLocaleString("en"))]);
  row(["train customers", ...o.cutoffs.map((c) => c.train_users.toLocaleString("en"))]);
  row(["candidate items", ...o.cutoffs.map((c) => c.candidate_items.toLocaleString("en"))]);
  row(["test users (all / novel)", ...o.cutoffs.map((c) => `${c.test_users.all} / ${c.test_users.novel}`)]);
  row(["served (all / novel)", ...o.chosen.map((c) => `${c.all} / ${c.novel}`)]);
  for (const m of ["all", "novel"] as const)
    row([
      `held-out ${m}: ranker / hybrid`,
      ...o.holdout.map((h) => `${f4(h[m].ranker)} / ${f4(h[m].hybrid)} (${h[m].users}; margin ${f4(h[m].margin)})`),
    ]);
  for (const m of ["all", "novel"] as const)
    row([
      `forward ${m}: ranker / hybrid`,
      ...o.forward.map((f) =>
        f ? `${f4(f[m].ranker)} / ${f4(f[m].hybrid)} (${f[m].users}; margin ${f4(f[m].margin)})` : "no earlier window",
      ),
    ]);
  row(["trees served (all / novel)", ...o.holdout.map((h) => `${h.all.trees} / ${h.novel.trees}`)]);
  row(["blend served (all / novel)", ...o.holdout.map((h) => `${h.all.blend} / ${h.novel.blend}`)]);
  lines.push(
    "",
    "What changes between cutoffs: the training window grows by a test window each time (more customers, more items, longer histories to rebuy from), the test window moves through the season (a retailer's autumn differs from its summer), and the readers tested are whoever bought in that window. A model whose lead holds at every cutoff is not riding one window's luck; the spread says how much one cutoff's figure can move. The held-out rows are NDCG@10 of the validation readers each origin kept out of the ranker's training (how many of them in parentheses, and how far the hybrid had to lead to serve): what chose `served` there, and what to judge a change to the ranker by (never a test window). The forward rows are the same comparison one window back in time (trees and weights fitted on the window before validation, judged on every validation reader): where its curve peaks (added to the same check one window earlier, where the log reaches) is the tree count each origin serves, and the blend (the hybrid logit's weight added to the trees' score) it serves with.",
    "",
  );
  for (const v of ["all", "novel"] as const) {
    lines.push(`### NDCG@10, ${v}`, "");
    row(["recommender", ...o.cutoffs.map((c) => c.cutoff), "mean", "sd"]);
    row(["---", ...o.cutoffs.map(() => "---:"), "---:", "---:"]);
    for (const [name, m] of Object.entries(o.ndcg_at_10)) {
      const s = m[v];
      if (s) row([name, ...s.values.map(f4), f4(s.mean), f4(s.sd)]);
    }
    const l = o.lead[v];
    lines.push(
      "",
      `Served mean ${f4(l.served_mean)} vs the best baseline's (${l.best_baseline}, the best by its mean over these cutoffs: a report, not a choice) ${f4(l.baseline_mean)}: **${l.ratio.toFixed(3)}x**${l.interval_95 ? ` (95% interval ${l.interval_95[0].toFixed(3)}-${l.interval_95[1].toFixed(3)}x: customers resampled ${LEAD_DRAWS.toLocaleString("en")} times, each with their readers at every cutoff, the same readers for both; conditional on these cutoffs)` : ""}.`,
      "",
    );
  }
}

/** The time-to-purchase section: "buys within 7 days", its calibration, and the 30-day reading of the same hazards. */
function writeHazard(
  lines: string[],
  row: (cells: (string | number)[]) => void,
  h: NonNullable<EvaluationDocument["time_to_purchase"]>,
  propensityAuc: number,
) {
  lines.push(
    "",
    "## Time to the next purchase (buys within 7 days)",
    "",
    `${h.model}. Buys within 7 days of the cutoff: AUC **${f4(h.auc)}** vs recency alone ${f4(h.baseline_auc)}; log loss ${f4(h.log_loss)}; expected calibration error ${f4(h.ece)}; ${h.positives} of ${h.customers} customers bought. ${h.auc_30d === null ? "The log ends less than 30 days after the cutoff: the four-week reading is not judged." : `The same hazards over four weeks rank 30-day buyers at AUC ${f4(h.auc_30d)} (the propensity model: ${f4(propensityAuc)}).`} Exported to each reader's profile as \`buyWithin7d\`.`,
    "",
  );
  row(["predicted range", "customers", "mean predicted", "observed rate"]);
  row(["---:", "---:", "---:", "---:"]);
  h.calibration.forEach((b) => {
    row([`${f4(b.lo)}-${f4(b.hi)}`, b.n, f4(b.predicted), f4(b.observed)]);
  });
}
