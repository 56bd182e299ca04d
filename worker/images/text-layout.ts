/**
 * Wraps and truncates card text with the real glyph advances of the font the image is drawn with
 * (font-metrics.json, generated from the font files by `npm run fonts`), so a title never runs off its
 * card and a cut title ends in a clean ellipsis on a word boundary where one is near. Linear in the text:
 * widths are sums of advances (no kerning), so a line is measured once, character by character, and
 * stops as soon as it is full; a catalog title of any length costs what its first lines cost.
 */
import metrics from "./font-metrics.json";

export type Weight = 400 | 700;

const ELLIPSIS = "…";
/** what a cut title does not end with before its ellipsis */
const TRAILING = /[\s,;:.\-–—]/;
const indexOf = new Map<string, number>([...metrics.chars].map((ch, i) => [ch, i]));

/**
 * Emoji and the marks that join or dress them (variation selectors, zero-width joiner, skin tones, flags' regional
 * indicators, the keycap) but those it measures (© ® ™): the bundled font has none of them, so resvg would draw each as an empty box. Card text
 * leaves them out (`drawable`); the AMP list and the text part keep them, as mail clients draw them.
 */
const UNDRAWABLE =
  /\p{Extended_Pictographic}|[\u{1F1E6}-\u{1F1FF}]|[\u{1F3FB}-\u{1F3FF}]|\u{FE0E}|\u{FE0F}|\u{200D}|\u{20E3}/gu;

/**
 * What resvg draws without moving on: combining marks (the accent of a decomposed `e\u0301`, as Vietnamese or macOS
 * text often comes) and invisible format characters (zero-width space and joiners, word joiner, byte order mark,
 * direction marks). Measured as the fallback's capital M each, they cut a title long before the card's edge.
 */
const ZERO_WIDTH = /^[\p{Mn}\p{Cf}]$/u;
/**
 * More of them in a row than text puts on one letter (Vietnamese decomposed: two marks; a direction mark beside):
 * measuring nothing, they never fill a line, and resvg takes 0.2 ms to draw each (30,000 stacked marks: 6.8 s).
 */
const ZERO_WIDTH_RUN = /([\p{Mn}\p{Cf}]{4})[\p{Mn}\p{Cf}]+/gu;

/**
 * `text` without what the font cannot draw (emoji), its spaces collapsed: `Buy 🛒 now` draws as `Buy now`; and
 * without zero-width characters past four in a row (ZERO_WIDTH_RUN).
 */
export function drawable(text: string): string {
  // © ® ™ are pictographic too, and the font draws them
  return text
    .replace(UNDRAWABLE, (ch) => (indexOf.has(ch) ? ch : ""))
    .replace(ZERO_WIDTH_RUN, "$1")
    .replace(/\s+/g, " ")
    .trim();
}

/** Advance of one character in font units. */
function advance(ch: string, weight: Weight): number {
  const w = metrics.weights[weight];
  const i = indexOf.get(ch);
  if (i !== undefined) return w.advances[i] as number;
  return ZERO_WIDTH.test(ch) ? 0 : w.fallback;
}

/** Font units to pixels at `size` px. */
const px = (units: number, size: number) => (units * size) / metrics.unitsPerEm;

/** Width in pixels of `text` at `size` px. */
export function measure(text: string, size: number, weight: Weight = 400): number {
  let units = 0;
  for (const ch of text) units += advance(ch, weight);
  return px(units, size);
}

/**
 * Length (in UTF-16 units) of the longest prefix of `text` that fits in `width` px with `extra` font
 * units after it; reads no further than one character past that prefix.
 */
function fittingPrefix(text: string, width: number, size: number, weight: Weight, extra = 0): number {
  let units = 0;
  let end = 0;
  for (const ch of text) {
    const next = units + advance(ch, weight);
    if (px(next + extra, size) > width) break;
    units = next;
    end += ch.length;
  }
  return end;
}

const fits = (text: string, width: number, size: number, weight: Weight) =>
  fittingPrefix(text, width, size, weight) === text.length;

/** The longest start of `text` that fits with `…` after it, preferring to cut at a space in the last third. */
function ellipsize(text: string, width: number, size: number, weight: Weight): string {
  const cut = text.slice(0, fittingPrefix(text, width, size, weight, advance(ELLIPSIS, weight))).trimEnd();
  const space = cut.lastIndexOf(" ");
  const base = space > (cut.length * 2) / 3 ? cut.slice(0, space) : cut;
  let end = base.length;
  while (end > 0 && TRAILING.test(base[end - 1] as string)) end--;
  return `${base.slice(0, end)}${ELLIPSIS}`;
}

/** A word wider than a line: the longest start of it that fits (at least one character), and the rest. */
function breakWord(word: string, width: number, size: number, weight: Weight): [string, string] {
  const first = String.fromCodePoint(word.codePointAt(0) as number).length;
  const end = Math.max(first, fittingPrefix(word, width, size, weight));
  return [word.slice(0, end), word.slice(end)];
}

/**
 * Greedy word wrap into at most `maxLines` lines of `width` px; text that does not fit ends the last line
 * with an ellipsis. Whitespace (including newlines) collapses to single spaces.
 */
export function wrapText(text: string, width: number, size: number, maxLines: number, weight: Weight = 400): string[] {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = "";
  let i = 0;
  for (; i < words.length; i++) {
    const word = words[i] as string;
    const candidate = line ? `${line} ${word}` : word;
    if (fits(candidate, width, size, weight)) {
      line = candidate;
      continue;
    }
    if (!line) {
      // a single word wider than the line: its head fills this line, the rest is the next word
      const [head, rest] = breakWord(word, width, size, weight);
      line = head;
      if (rest) words.splice(i + 1, 0, rest);
      continue;
    }
    lines.push(line);
    line = "";
    // out of lines: `i` is the first word that did not fit
    if (lines.length === maxLines) break;
    i--; // retry this word on the next line
  }
  if (line && lines.length < maxLines) {
    lines.push(line);
    line = "";
  }
  const overflow = i < words.length || line !== "";
  if (overflow && lines.length > 0) {
    const rest = [lines.pop() as string, ...words.slice(i)].join(" ");
    lines.push(ellipsize(rest, width, size, weight));
  }
  return lines;
}
