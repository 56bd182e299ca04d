/**
 * `npm run evaluate -- --data <file> [--origins 1] [--test-days 30] [--out build/evaluation] [--segments kmeans|dbscan] [--date-order dmy|mdy]`
 * Runs the temporal-30d protocol for every model, at `--origins` cutoffs (T, T - 30d, ...); prints the JSON document on stdout, writes it with
 * report.md and SVG charts to --out. Progress goes to stderr.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { cliArgs, wholeNumber } from "../lib/cli-args";
import { checkOut } from "../lib/out-dir";
import { MAX_ORIGINS, runEvaluation } from "./run-evaluation";
import { writeReport } from "./write-report";

const USAGE =
  "usage: npm run evaluate -- --data <purchases.csv[.gz]> [--origins 1] [--test-days 30] [--out dir] [--segments kmeans|dbscan] [--date-order dmy|mdy]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      data: { type: "string" },
      "test-days": { type: "string", default: "30" },
      origins: { type: "string", default: "1" },
      out: { type: "string", default: "build/evaluation" },
      segments: { type: "string", default: "kmeans" },
      "date-order": { type: "string" },
    },
  },
  z.object({
    "test-days": wholeNumber(1, 365),
    origins: wholeNumber(1, MAX_ORIGINS),
    segments: z.enum(["kmeans", "dbscan"]),
    "date-order": z.enum(["dmy", "mdy"]).optional(),
  }),
);
if (!values.data) {
  console.error(`--data is required: the purchase log to evaluate\n${USAGE}`);
  process.exit(2);
}
try {
  const out = values.out as string;
  await checkOut(out);
  const res = await runEvaluation({
    data: values.data,
    testDays: values["test-days"],
    origins: values.origins,
    segments: { method: values.segments },
    dateOrder: values["date-order"],
  });
  await mkdir(out, { recursive: true });
  await writeFile(join(out, "evaluation.json"), `${JSON.stringify(res.document, null, 2)}\n`);
  await writeReport(out, res.document, res.log, res.engagement, res.test.cutoff);
  console.log(JSON.stringify(res.document, null, 2));
  console.error(`report: ${join(out, "report.md")}`);
} catch (e) {
  console.error(`evaluate failed: ${(e as Error).message}`);
  process.exit(1);
}
