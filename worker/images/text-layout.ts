/**
 * Wraps and truncates card text with the real glyph advances of the font the image is drawn with
 * (font-metrics.json, generated from the font files by `npm run fonts`), so a title never runs off its
 * card and a cut title ends in a clean ellipsis on a word boundary where one is near.
 */
import metrics from "./font-metrics.json";

export type Weight = 400 | 700;

const ELLIPSIS = "…";
const indexOf = new Map<string, number>([...metrics.chars].map((ch, i) => [ch, i]));

/** Width in pixels of `text` at `size` px. */
export function measure(text: string, size: number, weight: Weight = 400): number {
  const w = metrics.weights[weight];
  let units = 0;
  for (const ch of text) {
    const i = indexOf.get(ch);
    units += i === undefined ? w.fallback : (w.advances[i] as number);
  }
  return (units * size) / metrics.unitsPerEm;
}

/** Drops characters from the end until `text + …` fits, preferring to cut at a space in the last third. */
function ellipsize(text: string, width: number, size: number, weight: Weight): string {
  const chars = [...text.trimEnd()];
  while (chars.length > 0 && measure(`${chars.join("")}${ELLIPSIS}`, size, weight) > width) chars.pop();
  const cut = chars.join("").trimEnd();
  const space = cut.lastIndexOf(" ");
  const base = space > (cut.length * 2) / 3 ? cut.slice(0, space) : cut;
  return `${base.replace(/[\s,;:.\-–—]+$/, "")}${ELLIPSIS}`;
}

/** Splits a word that is wider than a line into pieces that fit. */
function breakWord(word: string, width: number, size: number, weight: Weight): string[] {
  const pieces: string[] = [];
  let piece = "";
  for (const ch of word) {
    if (piece && measure(piece + ch, size, weight) > width) {
      pieces.push(piece);
      piece = "";
    }
    piece += ch;
  }
  if (piece) pieces.push(piece);
  return pieces;
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
    if (measure(candidate, size, weight) <= width) {
      line = candidate;
      continue;
    }
    if (!line) {
      // a single word wider than the line: break it
      const [head, ...rest] = breakWord(word, width, size, weight);
      line = head as string;
      if (rest.length > 0) words.splice(i + 1, 0, rest.join(""));
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
