/**
 * `npm run demo -- [--out build/demo] [--seed 7] [--products 2400] [--customers 5000] [--end YYYY-MM-DD]
 * [--months n]`: writes the demo shop. A bad option ends the run with the usage line, exit 2.
 */

import { z } from "zod";
import { cliArgs, wholeNumber } from "../lib/cli-args";
import { DEFAULT_DEMO_OPTIONS, generateDemo } from "./generate";

const USAGE =
  "usage: npm run demo -- [--out build/demo] [--seed n] [--products n] [--customers n] [--end YYYY-MM-DD] [--months n]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      out: { type: "string", default: "build/demo" },
      seed: { type: "string" },
      products: { type: "string" },
      customers: { type: "string" },
      end: { type: "string" },
      months: { type: "string" },
    },
  },
  z.object({
    seed: wholeNumber(0, 2 ** 32 - 1).default(DEFAULT_DEMO_OPTIONS.seed),
    products: wholeNumber(24, 100_000).default(DEFAULT_DEMO_OPTIONS.products),
    customers: wholeNumber(1, 1_000_000).default(DEFAULT_DEMO_OPTIONS.customers),
    months: wholeNumber(1, 120).default(DEFAULT_DEMO_OPTIONS.months),
    // a calendar date (the usage's form) or a full ISO-8601 time, as the default is: nothing Date.parse guesses at
    end: z
      .union([z.iso.date(), z.iso.datetime({ offset: true })], {
        error: "expected a date, YYYY-MM-DD (or an ISO-8601 time)",
      })
      .default(DEFAULT_DEMO_OPTIONS.end),
  }),
);
const started = performance.now();
const summary = await generateDemo(values.out as string, {
  seed: values.seed,
  products: values.products,
  customers: values.customers,
  end: values.end,
  months: values.months,
});
console.log(
  JSON.stringify({ out: values.out, seconds: +((performance.now() - started) / 1000).toFixed(2), ...summary }, null, 2),
);
