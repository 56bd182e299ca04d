/** `npm run demo -- [--out build/demo] [--seed 7] [--products 2400] [--customers 5000]`: writes the demo shop. */

import { cliArgs } from "../lib/cli-args";
import { DEFAULT_DEMO_OPTIONS, generateDemo } from "./generate";

const USAGE =
  "usage: npm run demo -- [--out build/demo] [--seed n] [--products n] [--customers n] [--end YYYY-MM-DD] [--months n]";
const { values } = cliArgs(USAGE, {
  options: {
    out: { type: "string", default: "build/demo" },
    seed: { type: "string" },
    products: { type: "string" },
    customers: { type: "string" },
    end: { type: "string" },
    months: { type: "string" },
  },
});
const num = (s: string | undefined, d: number) => (s === undefined ? d : Number(s));
const started = performance.now();
const summary = await generateDemo(values.out as string, {
  seed: num(values.seed, DEFAULT_DEMO_OPTIONS.seed),
  products: num(values.products, DEFAULT_DEMO_OPTIONS.products),
  customers: num(values.customers, DEFAULT_DEMO_OPTIONS.customers),
  end: values.end ?? DEFAULT_DEMO_OPTIONS.end,
  months: num(values.months, DEFAULT_DEMO_OPTIONS.months),
});
console.log(
  JSON.stringify({ out: values.out, seconds: +((performance.now() - started) / 1000).toFixed(2), ...summary }, null, 2),
);
