/**
 * A countdown block drawn as an animated GIF: one frame a second from the moment of the open (up to 60), each
 * showing days, hours, minutes and seconds left; played once, so it rests on its last frame. resvg draws the
 * still parts once and each digit once (a glyph atlas); a frame is the still part with its eight digits (nine from
 * 100 days left) laid in, and after the first only the digit cells that changed are written (GIF sub-frames). 16 grey levels between the
 * background and the text colour make the palette: anti-aliasing kept, no quantizing. Drawn GIFs are kept
 * per isolate by (block, size, second): every reader opening within the same second shares one.
 */
import { GifWriter } from "omggif";
import type { Countdown } from "../../core/campaign";
import { COUNTDOWN_FRAMES, countdownFrames, dayDigits, digits, type TimeLeft } from "../../core/countdown";
import { escapeXml } from "../../core/escape-xml";
import { ByteLru } from "../lib/byte-lru";
import { imageCaches } from "./image-memory";
import { renderRaster } from "./resvg-runtime";
import { drawable } from "./text-layout";

const BG = [255, 255, 255] as const;
const FG = [31, 41, 51] as const; // #1f2933, the cards' text colour
const LEVELS = 16;
const PALETTE = Array.from({ length: LEVELS }, (_, i) => {
  const t = i / (LEVELS - 1);
  const c = (k: 0 | 1 | 2) => Math.round(BG[k] + (FG[k] - BG[k]) * t);
  return (c(0) << 16) | (c(1) << 8) | c(2);
});
const LABELS = ["DAYS", "HRS", "MIN", "SEC"];

interface Layout {
  width: number;
  height: number;
  /** digit cell size and the digits' row top */
  cell: { w: number; h: number };
  rowY: number;
  /** the days' digit cells: 2, or 3 from 100 days left */
  dayCells: 2 | 3;
  /** x of each digit cell: the days', then two each for hours, minutes and seconds */
  cellX: number[];
  /** each group's first and last cell (days, hours, minutes, seconds) */
  groups: [number, number][];
  digitSize: number;
}

function layoutFor(width: number, height: number, dayCells: 2 | 3): Layout {
  const cells = dayCells + 6;
  const digitSize = Math.round(Math.min(height * 0.32, width / (0.9 * cells)));
  const cell = { w: Math.round(digitSize * 0.62), h: Math.round(digitSize * 1.2) };
  const gap = Math.round(digitSize * 0.45);
  const total = cells * cell.w + 3 * gap;
  const x0 = Math.round((width - total) / 2);
  const groupOf = (i: number) => (i < dayCells ? 0 : 1 + Math.floor((i - dayCells) / 2));
  const cellX = Array.from({ length: cells }, (_, i) => x0 + i * cell.w + groupOf(i) * gap);
  const groups: [number, number][] = [
    [0, dayCells - 1],
    [dayCells, dayCells + 1],
    [dayCells + 2, dayCells + 3],
    [dayCells + 4, dayCells + 5],
  ];
  const rowY = Math.round(height * 0.36);
  return { width, height, cell, rowY, dayCells, cellX, groups, digitSize };
}

/** The still part: background, title, colons between the groups and the labels under them. */
function stillSvg(block: Countdown, l: Layout): string {
  const fg = "#1f2933";
  // the title as the font can draw it (no emoji: each would be an empty box, as on the cards: text-layout.ts)
  const words = drawable(block.title);
  // the title fits the width (Roboto Bold averages about 0.58 em a character)
  const title = Math.max(
    8,
    Math.round(Math.min(l.digitSize * 0.36, (l.width * 0.92) / (0.58 * Math.max(1, words.length)))),
  );
  const label = Math.round(l.digitSize * 0.22);
  const parts = [
    `<rect width="${l.width}" height="${l.height}" fill="#ffffff"/>`,
    `<text x="${l.width / 2}" y="${Math.round(l.rowY - title * 0.9)}" font-family="Roboto" font-size="${title}" font-weight="700" fill="${fg}" text-anchor="middle">${escapeXml(words)}</text>`,
  ];
  for (let g = 0; g < 4; g++) {
    const [first, last] = l.groups[g] as [number, number];
    const x = ((l.cellX[first] as number) + (l.cellX[last] as number) + l.cell.w) / 2;
    parts.push(
      `<text x="${x}" y="${l.rowY + l.cell.h + label * 1.4}" font-family="Roboto" font-size="${label}" fill="${fg}" text-anchor="middle">${LABELS[g]}</text>`,
    );
    if (g < 3) {
      const next = (l.groups[g + 1] as [number, number])[0];
      const cx = ((l.cellX[last] as number) + l.cell.w + (l.cellX[next] as number)) / 2;
      parts.push(
        `<text x="${cx}" y="${l.rowY + l.digitSize}" font-family="Roboto" font-size="${l.digitSize}" font-weight="700" fill="${fg}" text-anchor="middle">:</text>`,
      );
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" viewBox="0 0 ${l.width} ${l.height}">${parts.join("")}</svg>`;
}

/** The ten digits, each centred in a cell of the layout's size, side by side. */
function atlasSvg(l: Layout): string {
  const cells = Array.from(
    { length: 10 },
    (_, d) =>
      `<text x="${d * l.cell.w + l.cell.w / 2}" y="${l.digitSize}" font-family="Roboto" font-size="${l.digitSize}" font-weight="700" fill="#1f2933" text-anchor="middle">${d}</text>`,
  );
  const w = 10 * l.cell.w;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${l.cell.h}" viewBox="0 0 ${w} ${l.cell.h}"><rect width="${w}" height="${l.cell.h}" fill="#ffffff"/>${cells.join("")}</svg>`;
}

/** Premultiplied RGBA over white -> palette index (how far from the background toward the text colour). */
function toIndices(rgba: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  const span = 255 - (FG[0] * 0.299 + FG[1] * 0.587 + FG[2] * 0.114);
  for (let i = 0, o = 0; o < pixels; i += 4, o++) {
    const lum = (rgba[i] as number) * 0.299 + (rgba[i + 1] as number) * 0.587 + (rgba[i + 2] as number) * 0.114;
    const t = Math.min(1, Math.max(0, (255 - lum) / span));
    out[o] = Math.round(t * (LEVELS - 1));
  }
  return out;
}

interface Drawn {
  still: Uint8Array;
  atlas: Uint8Array;
  atlasWidth: number;
}

/** One frame's digits' row: the still row with its digit cells laid in. */
function digitsRow(l: Layout, drawn: Drawn, t: TimeLeft): Uint8Array {
  const row = drawn.still.slice(l.rowY * l.width, (l.rowY + l.cell.h) * l.width);
  const text = digits(t, l.dayCells).join("");
  for (let c = 0; c < l.cellX.length; c++) {
    const d = text.charCodeAt(c) - 48;
    const x = l.cellX[c] as number;
    for (let y = 0; y < l.cell.h; y++) {
      const src = y * drawn.atlasWidth + d * l.cell.w;
      row.set(drawn.atlas.subarray(src, src + l.cell.w), y * l.width + x);
    }
  }
  return row;
}

const stills = new ByteLru<Drawn>(8 * 1024 * 1024, (d) => d.still.byteLength + d.atlas.byteLength, imageCaches);
const gifs = new ByteLru<Uint8Array>(8 * 1024 * 1024, (b) => b.byteLength, imageCaches);

export interface CountdownGif {
  gif: Uint8Array;
  frames: number;
  /** whether this drawing was made for this request (false: shared with an open in the same second) */
  drawn: boolean;
}

/**
 * The countdown at `nowMs`, `width` x `height` pixels; null once the deadline has passed (the caller draws the
 * block's ended content). Throws on a drawing failure (the caller serves its fallback).
 */
export async function countdownGif(
  block: Countdown,
  width: number,
  height: number,
  nowMs: number,
): Promise<CountdownGif | null> {
  const deadline = Date.parse(block.deadline);
  const frames = countdownFrames(deadline, nowMs, COUNTDOWN_FRAMES);
  if (frames.length === 0) return null;
  const key = JSON.stringify([block.id, block.deadline, block.title, width, height, Math.floor(nowMs / 1000)]);
  const hit = gifs.get(key);
  if (hit) return { gif: hit, frames: frames.length, drawn: false };
  // a drawing that starts at 100 days or more keeps three day cells for its minute (099 after 100)
  const l = layoutFor(width, height, dayDigits(frames[0] as TimeLeft));
  const stillKey = JSON.stringify([block.title, width, height, l.dayCells]);
  let drawn = stills.get(stillKey);
  if (!drawn) {
    const [still, atlas] = await Promise.all([
      renderRaster({ svg: stillSvg(block, l), width }),
      renderRaster({ svg: atlasSvg(l), width: 10 * l.cell.w }),
    ]);
    drawn = {
      still: toIndices(still.data, width * height),
      atlas: toIndices(atlas.data, atlas.width * atlas.height),
      atlasWidth: atlas.width,
    };
    stills.set(stillKey, drawn);
  }
  // the sub-frames after the first: only the digit cells that changed (the seconds, mostly)
  const parts: { x0: number; w: number; part: Uint8Array }[] = [];
  const last = l.cellX.length - 1;
  let before = digits(frames[0] as TimeLeft, l.dayCells).join("");
  for (let i = 1; i < frames.length; i++) {
    const t = frames[i] as TimeLeft;
    const now = digits(t, l.dayCells).join("");
    let lo = 0;
    while (lo < last && now[lo] === before[lo]) lo++;
    let hi = last;
    while (hi > lo && now[hi] === before[hi]) hi--;
    before = now;
    const x0 = l.cellX[lo] as number;
    const w = (l.cellX[hi] as number) + l.cell.w - x0;
    const row = digitsRow(l, drawn, t);
    const part = new Uint8Array(w * l.cell.h);
    for (let y = 0; y < l.cell.h; y++) part.set(row.subarray(y * width + x0, y * width + x0 + w), y * w);
    parts.push({ x0, w, part });
  }
  // LZW takes at most 12 bits a pixel (and a length byte per 255): 2 bytes a pixel of each frame written, plus
  // its headers. Sized by the sub-frames, not the whole row: a 2x card's 60 rows were 29 MB for a 0.1 MB GIF.
  const bound = parts.reduce((n, p) => n + p.part.byteLength * 2 + 64, width * height * 2 + 2048);
  const buf = new Uint8Array(bound);
  const writer = new GifWriter(buf, width, height, { palette: PALETTE });
  const first = drawn.still.slice();
  first.set(digitsRow(l, drawn, frames[0] as TimeLeft), l.rowY * width);
  writer.addFrame(0, 0, width, height, first as unknown as number[], { delay: 100 });
  for (const { x0, w, part } of parts)
    writer.addFrame(x0, l.rowY, w, l.cell.h, part as unknown as number[], { delay: 100 });
  const gif = buf.slice(0, writer.end());
  gifs.set(key, gif);
  return { gif, frames: frames.length, drawn: true };
}
