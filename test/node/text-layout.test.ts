/**
 * Card text layout (worker/images/text-layout.ts, pure): wrapping and the title ellipsis cost work linear in
 * the title (a catalog title of any length costs what its first lines cost), and lay out exactly as the
 * plain "drop a character and measure again" algorithm does on ordinary titles.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseSlot, type Slot } from "../../core/layouts";
import { cardSvg } from "../../worker/images/card-svg";
import { drawable, measure, type Weight, wrapText } from "../../worker/images/text-layout";

/** Glyph lookups (one Map#get per character measured) made while `run` runs. */
function lookups(run: () => void): number {
  const get = Map.prototype.get;
  let n = 0;
  Map.prototype.get = function (this: Map<unknown, unknown>, key: unknown) {
    n++;
    return get.call(this, key);
  };
  try {
    run();
  } finally {
    Map.prototype.get = get;
  }
  return n;
}

/** The layout as first written (quadratic ellipsis): the reference the linear one must agree with. */
function referenceWrap(text: string, width: number, size: number, maxLines: number, weight: Weight): string[] {
  const m = (s: string) => measure(s, size, weight);
  const ellipsize = (t: string) => {
    const chars = [...t.trimEnd()];
    while (chars.length > 0 && m(`${chars.join("")}…`) > width) chars.pop();
    const cut = chars.join("").trimEnd();
    const space = cut.lastIndexOf(" ");
    const base = space > (cut.length * 2) / 3 ? cut.slice(0, space) : cut;
    return `${base.replace(/[\s,;:.\-–—]+$/, "")}…`;
  };
  const breakWord = (word: string) => {
    const pieces: string[] = [];
    let piece = "";
    for (const ch of word) {
      if (piece && m(piece + ch) > width) {
        pieces.push(piece);
        piece = "";
      }
      piece += ch;
    }
    if (piece) pieces.push(piece);
    return pieces;
  };
  const words = text.trim().split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = "";
  let i = 0;
  for (; i < words.length; i++) {
    const word = words[i] as string;
    const candidate = line ? `${line} ${word}` : word;
    if (m(candidate) <= width) {
      line = candidate;
      continue;
    }
    if (!line) {
      const [head, ...rest] = breakWord(word);
      line = head as string;
      if (rest.length > 0) words.splice(i + 1, 0, rest.join(""));
      continue;
    }
    lines.push(line);
    line = "";
    if (lines.length === maxLines) break;
    i--;
  }
  if (line && lines.length < maxLines) {
    lines.push(line);
    line = "";
  }
  if ((i < words.length || line !== "") && lines.length > 0)
    lines.push(ellipsize([lines.pop() as string, ...words.slice(i)].join(" ")));
  return lines;
}

describe("title layout", () => {
  it("ellipsizes a title of any length with work independent of its length (no quadratic cut)", () => {
    const counts = [2_000, 4_000, 8_000].map((n) => {
      const words = `Organic cotton tee, relaxed fit; ${"extra-long-sku ".repeat(n / 15)}`.slice(0, n);
      const spaceless = "W".repeat(n);
      let laid: string[][] = [];
      const count = lookups(() => {
        laid = [words, spaceless].map((title) => wrapText(title, 176, 14, 3, 700));
      });
      for (const lines of laid) {
        expect(lines).toHaveLength(3);
        expect(lines.at(-1)).toMatch(/…$/);
        for (const line of lines) expect(measure(line, 14, 700)).toBeLessThanOrEqual(176);
      }
      return count;
    });
    console.log("glyph lookups for 2k/4k/8k-character titles:", counts.join(" / "));
    // measured lines only: a few hundred lookups, the same for 2,000 and 8,000 characters (the quadratic
    // cut measured the rest of the title once per character dropped: millions)
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[2]).toBeLessThan(2_000);
    expect(counts[2]).toBeLessThanOrEqual((counts[0] as number) * 1.5);
  });

  it("lays out ordinary titles exactly as the measure-again reference does", () => {
    const word = fc.stringMatching(/^[A-Za-z0-9éü€中,;:.\-–—]{1,14}$/);
    fc.assert(
      fc.property(
        fc.array(word, { maxLength: 30 }),
        fc.constantFrom(" ", "  ", "\n"),
        fc.integer({ min: 20, max: 300 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<Weight>(400, 700),
        (words, gap, width, maxLines, weight) => {
          const title = words.join(gap);
          expect(wrapText(title, width, 14, maxLines, weight)).toEqual(
            referenceWrap(title, width, 14, maxLines, weight),
          );
        },
      ),
      { seed: 10, numRuns: 500 },
    );
  });

  it("measures what resvg draws without moving on (combining marks, zero-width and direction marks) as nothing", () => {
    // resvg draws `Cafe\u0301` as wide as `Café`, and `Shop\u200Bnow` as `Shopnow` (checked against its drawing)
    for (const weight of [400, 700] as const) {
      expect(measure("Cafe\u0301", 22, weight)).toBe(measure("Café", 22, weight));
      for (const mark of ["\u200B", "\uFEFF", "\u200E", "\u200F", "\u2060", "\u200D"])
        expect(measure(`Shop${mark}now`, 22, weight), mark.codePointAt(0)?.toString(16)).toBe(
          measure("Shopnow", 22, weight),
        );
    }
    // a title in decomposed form (as macOS and some shop systems write accents) is cut where its composed form is
    const title =
      "Crème brûlée à la façon de grand-mère, édition limitée numérotée, coffret élégant, pour quatre à six personnes, fabriquée à Nîmes";
    const composed = wrapText(title, 176, 14, 3, 700);
    expect(composed.at(-1)).toMatch(/…$/);
    expect(wrapText(title.normalize("NFD"), 176, 14, 3, 700).map((line) => line.normalize("NFC"))).toEqual(composed);
  });

  it("draws a few marks on a character at most: a title of stacked marks costs what its first lines cost", () => {
    // marks measure nothing, so a line never filled with them: 30,000 of them (60 KB) went whole into the card's
    // SVG, and resvg took 6.8 s to draw it (80 ms when they measured as a capital M each)
    const slot = parseSlot("row-0") as Slot;
    const svg = (title: string) => cardSvg(slot, { title, price: "£3", picture: false });
    const plain = svg("Cafe latte").length;
    for (const mark of ["\u0301", "\u200B", "\u0301\u200E"])
      expect(svg(`Cafe${mark.repeat(30_000)} latte`).length, mark.codePointAt(0)?.toString(16)).toBeLessThan(
        plain + 50,
      );
    // what text writes on one letter stays: Vietnamese decomposed takes two marks, a direction mark beside them
    const vietnamese = "Tiếng Việt chất lượng cao".normalize("NFD");
    expect(drawable(vietnamese)).toBe(vietnamese);
    expect(drawable("Ca\u0323\u0302\u200Ef\u0301e")).toBe("Ca\u0323\u0302\u200Ef\u0301e");
  });
});

describe("titles in Greek, Cyrillic and Vietnamese", () => {
  it("measure as the font draws them, not as wide as an M (which cut such titles early)", () => {
    // letters drawn as their Latin look-alikes are: Greek omicron, Cyrillic o and a, Vietnamese e with two marks
    for (const [letter, latin] of [
      ["\u03bf", "o"],
      ["\u043e", "o"],
      ["\u0430", "a"],
      ["\u1ec7", "e"],
    ] as const)
      for (const weight of [400, 700] as const)
        expect(measure(letter, 16, weight), `${letter} at ${weight}`).toBeCloseTo(measure(latin, 16, weight), 5);
    // a Greek title fits on the line its Latin transliteration fits on
    const greek = "\u039a\u03bf\u03cd\u03c0\u03b1 \u03ba\u03b1\u03c6\u03ad"; // Κούπα καφέ
    expect(measure(greek, 16)).toBeLessThan(measure("M".repeat(greek.length), 16) * 0.8);
  });
});
