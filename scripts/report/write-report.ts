/** Writes report.md (tables) and its SVG charts from an evaluation run. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PurchaseLog } from "../data/purchase-log";
import type { EngagementSuite } from "../eval/engagement-suite";
import type { EvaluationDocument } from "../eval/run-evaluation";
import type { ProtocolMetrics } from "../ranking/evaluate-recommender";
import { customerFeatures, logRfm } from "../segments/rfm";
import { calibrationCurve, groupedBars, scatter } from "./svg-charts";

const f4 = (x: number | undefined | null) => (x === undefined || x === null || Number.isNaN(x) ? "n/a" : x.toFixed(4));
const METRICS: (keyof ProtocolMetrics)[] = [
  "ndcg_at_10",
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
  lines.push("# opentime evaluation: temporal-30d", "");
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
  lines.push("", "## Purchase propensity (next 30 days)", "");
  lines.push(
    `AUC **${f4(doc.propensity.auc)}** vs recency alone ${f4(doc.propensity.baseline_auc)}; log loss ${f4(doc.propensity.log_loss)}; ${doc.propensity.positives} of ${doc.propensity.customers} customers bought.`,
    "",
  );
  lines.push("![calibration](charts/calibration.svg)", "");
  row(["decile", "customers", "mean predicted", "observed rate"]);
  row(["---:", "---:", "---:", "---:"]);
  for (const b of doc.propensity.calibration) row([b.bin, b.count, f4(b.mean_predicted), f4(b.observed_rate)]);
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
