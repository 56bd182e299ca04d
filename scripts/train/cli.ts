/**
 * `npm run train -- [--data build/demo/events.csv] [--catalog build/demo/products.json] [--out models]
 *   [--map user=col,item=col,time=col,weight=col,type=col] [--factors 64] [--iterations 15]
 *   [--regularization 0.1] [--alpha 2] [--seed 42] [--holdout-days 14]`
 * Trains implicit ALS on an interaction log and exports the int8 ONNX model the Worker serves.
 */
import { parseArgs } from "node:util";
import { parseMapping } from "../data/interaction-log";
import { trainAndExport } from "./pipeline";

const { values } = parseArgs({
  options: {
    data: { type: "string", default: "build/demo/events.csv" },
    catalog: { type: "string" },
    out: { type: "string", default: "models" },
    map: { type: "string" },
    factors: { type: "string" },
    iterations: { type: "string" },
    regularization: { type: "string" },
    alpha: { type: "string" },
    seed: { type: "string" },
    "holdout-days": { type: "string" },
  },
});
const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
const als = Object.fromEntries(
  Object.entries({
    factors: num(values.factors),
    iterations: num(values.iterations),
    regularization: num(values.regularization),
    alpha: num(values.alpha),
    seed: num(values.seed),
  }).filter(([, v]) => v !== undefined),
);
const catalog = values.catalog ?? (values.data === "build/demo/events.csv" ? "build/demo/products.json" : undefined);
try {
  const { dir, manifest } = await trainAndExport({
    data: values.data as string,
    catalog,
    out: values.out as string,
    mapping: values.map ? parseMapping(values.map) : undefined,
    als,
    holdoutDays: num(values["holdout-days"]),
    log: (m) => console.error(`[train] ${m}`),
  });
  console.log(
    JSON.stringify({ dir, version: manifest.version, metrics: manifest.metrics, training: manifest.training }, null, 2),
  );
} catch (e) {
  console.error(`train failed: ${(e as Error).message}`);
  process.exit(1);
}
