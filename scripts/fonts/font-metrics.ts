/**
 * Glyph advance widths of the fonts the Worker renders images with, so text can be wrapped and truncated
 * at the edge without parsing a font per request. Written to worker/images/font-metrics.json
 * (`npm run fonts`); a test regenerates it and fails if the committed file is stale.
 */
import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import opentype from "opentype.js";

export const FONT_FILES = {
  400: "@expo-google-fonts/roboto/400Regular/Roboto_400Regular.ttf",
  700: "@expo-google-fonts/roboto/700Bold/Roboto_700Bold.ttf",
} as const;
export const METRICS_PATH = "worker/images/font-metrics.json";

/**
 * Latin-1, Latin Extended-A and -B, Greek, Cyrillic (and its supplement), Latin Extended Additional (Vietnamese's
 * precomposed letters), and the punctuation and currency signs product titles use: the scripts Roboto draws, so a
 * title in them is wrapped by its real widths, not each letter as an M (kept: those the font has a glyph for).
 */
function coveredChars(): string[] {
  const ranges: [number, number][] = [
    [0x20, 0x7e],
    [0xa0, 0x24f],
    [0x370, 0x52f],
    [0x1e00, 0x1eff],
    [0x2010, 0x2027],
    [0x2030, 0x203a],
    [0x20a0, 0x20bf],
    [0x2122, 0x2122],
  ];
  return ranges.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => String.fromCodePoint(a + i)));
}

export interface FontMetrics {
  family: string;
  unitsPerEm: number;
  ascender: number;
  descender: number;
  /** the characters measured, in order */
  chars: string;
  /** per weight: advance widths in font units, index-aligned with `chars`, and a fallback for anything else */
  weights: Record<string, { advances: number[]; fallback: number }>;
}

export async function computeFontMetrics(): Promise<FontMetrics> {
  const require = createRequire(import.meta.url);
  const chars = coveredChars();
  const metrics: FontMetrics = { family: "Roboto", unitsPerEm: 0, ascender: 0, descender: 0, chars: "", weights: {} };
  const kept: string[] = [];
  for (const [weight, file] of Object.entries(FONT_FILES)) {
    const bytes = await readFile(require.resolve(file));
    const font = opentype.parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    metrics.unitsPerEm = font.unitsPerEm;
    metrics.ascender = font.ascender;
    metrics.descender = font.descender;
    if (kept.length === 0) kept.push(...chars.filter((ch) => font.charToGlyph(ch).index !== 0));
    const advances = kept.map((ch) => font.charToGlyph(ch).advanceWidth ?? 0);
    // unknown characters: as wide as a capital M, so wrapping errs on the safe side
    metrics.weights[weight] = { advances, fallback: font.charToGlyph("M").advanceWidth ?? font.unitsPerEm };
  }
  metrics.chars = kept.join("");
  return metrics;
}

export function serializeMetrics(m: FontMetrics): string {
  return `${JSON.stringify(m)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = await computeFontMetrics();
  await writeFile(METRICS_PATH, serializeMetrics(m));
  // as the repository keeps it: Biome's layout, so a regeneration of the same metrics leaves the file unchanged
  // and `npm run lint` passing (the one-line JSON written above is not Biome's)
  const biome = spawnSync("npx", ["biome", "format", "--write", METRICS_PATH], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (biome.status !== 0) {
    console.error(`fonts failed: biome format ${METRICS_PATH} exited ${biome.status}; run npm run format`);
    process.exit(1);
  }
  console.log(`wrote ${METRICS_PATH}: ${m.chars.length} characters, ${Object.keys(m.weights).length} weights`);
}
