/**
 * `npm run train -- [--data build/demo/events.csv] [--catalog products.json] [--out models]
 *   [--map user=col,item=col,time=col,weight=col,type=col] [--factors 64] [--iterations 15] [--seed 42]
 *   [--holdout-days 30] [--no-tune] [--no-pools] [--currency GBP] [--date-order dmy|mdy]`
 * Trains on a purchase log (UCI Online Retail / II layouts, detected by header) or a typed event log, and
 * exports everything the Worker serves (see pipeline.ts). Progress on stderr, a summary on stdout.
 */

import { z } from "zod";
import { parseMapping } from "../data/interaction-log";
import { cliArgs, wholeNumber } from "../lib/cli-args";
import { trainAndExport } from "./pipeline";

const USAGE =
  "usage: npm run train -- [--data build/demo/events.csv] [--catalog products.json] [--out models] [--map user=...,item=...] [--factors n] [--iterations n] [--seed n] [--holdout-days 30] [--no-tune] [--no-pools] [--currency EUR] [--date-order dmy|mdy]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      data: { type: "string", default: "build/demo/events.csv" },
      catalog: { type: "string" },
      out: { type: "string", default: "models" },
      map: { type: "string" },
      factors: { type: "string" },
      iterations: { type: "string" },
      seed: { type: "string" },
      "holdout-days": { type: "string" },
      "no-tune": { type: "boolean", default: false },
      "no-pools": { type: "boolean", default: false },
      currency: { type: "string" },
      "date-order": { type: "string" },
    },
  },
  z.object({
    factors: wholeNumber(1, 1024).optional(),
    iterations: wholeNumber(1, 1000).optional(),
    seed: wholeNumber(0, 2 ** 32 - 1).optional(),
    "holdout-days": wholeNumber(1, 365).optional(),
    // what the catalog's items are priced in; the Worker refuses a catalog whose currency is not three letters
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, "expected an ISO 4217 code, three capital letters (GBP, EUR)")
      .optional(),
    // day-and-month dates no date of the log settles (every field 12 or less): day first or month first
    "date-order": z.enum(["dmy", "mdy"]).optional(),
  }),
);
const als = Object.fromEntries(
  Object.entries({ factors: values.factors, iterations: values.iterations, seed: values.seed }).filter(
    ([, v]) => v !== undefined,
  ),
);
const catalog = values.catalog ?? (values.data === "build/demo/events.csv" ? "build/demo/products.json" : undefined);
// a --map that is not field=column pairs is the command line's fault, refused as every bad option is (exit 2)
let mapping: ReturnType<typeof parseMapping> | undefined;
try {
  mapping = values.map ? parseMapping(values.map) : undefined;
} catch (e) {
  console.error(`--map: ${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
try {
  const started = performance.now();
  const { dir, manifest, profiles } = await trainAndExport({
    data: values.data as string,
    catalog,
    out: values.out as string,
    mapping,
    als,
    tune: !values["no-tune"],
    pools: !values["no-pools"],
    holdoutDays: values["holdout-days"],
    currency: values.currency,
    dateOrder: values["date-order"],
    log: (m) => console.error(`[train] ${m}`),
  });
  console.log(
    JSON.stringify(
      {
        dir,
        version: manifest.version,
        profiles,
        graphs: {
          als: true,
          content: !!manifest.content,
          hybrid: !!manifest.hybrid,
          segments: manifest.segments?.names ?? null,
        },
        metrics: manifest.metrics,
        seconds: Math.round((performance.now() - started) / 100) / 10,
      },
      null,
      2,
    ),
  );
} catch (e) {
  console.error(`train failed: ${(e as Error).message}`);
  process.exit(1);
}
