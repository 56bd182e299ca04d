/** The committed glyph metrics (worker/images/font-metrics.json) match the fonts the Worker draws with. */
import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { computeFontMetrics, METRICS_PATH } from "../../scripts/fonts/font-metrics";

it("font-metrics.json is current (regenerate with `npm run fonts`)", async () => {
  const committed = JSON.parse(await readFile(METRICS_PATH, "utf8"));
  const fresh = await computeFontMetrics();
  expect(committed).toEqual(JSON.parse(JSON.stringify(fresh)));
  expect(fresh.chars).toContain("€");
  expect(fresh.weights["700"]?.advances.length).toBe(fresh.chars.length);
});
