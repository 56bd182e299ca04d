/**
 * Composes one slot's product card as SVG (drawn by resvg into a PNG): picture, title wrapped to the
 * card, price with currency, an optional badge, and the block's copy (core/block-copy.ts) where the card has
 * room: the headline as a line above the title, the subline under the price (the wide card only), the call to
 * action as the wide card's button or beside the price. Coordinates are CSS pixels of the 1x image; the retina
 * variant only changes the output size. With a picture, its box is left transparent: the picture's own
 * pixels are laid under the drawn card (`raster.ts`), the painted corners and the badge staying on top.
 */

import { escapeXml } from "../../core/escape-xml";
import { LAYOUTS, type LayoutName, type Slot, slotPixels } from "../../core/layouts";
import { drawable, measure, wrapText } from "./text-layout";

export interface CardContent {
  title: string;
  /** formatted with its currency; empty for generic content */
  price: string;
  badge?: string;
  /** the block's headline, drawn as one line above the title */
  headline?: string;
  /** the block's subline: under the price, on the wide card only */
  subline?: string;
  /** the call to action: the wide card's button ("Shop now" without one), beside the price on the others */
  cta?: string;
  /** true: leave the picture box transparent for the picture; false: draw the neutral placeholder */
  picture: boolean;
}

interface Geometry {
  pic: { x: number; y: number; w: number; h: number };
  text: { x: number; y: number; w: number };
  title: { size: number; line: number; lines: number };
  price: number;
  button: boolean;
}

const GEOMETRY: Record<LayoutName, Geometry> = {
  card: {
    pic: { x: 20, y: 20, w: 220, h: 220 },
    text: { x: 264, y: 34, w: 316 },
    title: { size: 22, line: 28, lines: 3 },
    price: 22,
    button: true,
  },
  row: {
    pic: { x: 10, y: 10, w: 180, h: 180 },
    text: { x: 12, y: 204, w: 176 },
    title: { size: 14, line: 18, lines: 3 },
    price: 16,
    button: false,
  },
  grid: {
    pic: { x: 12, y: 12, w: 276, h: 216 },
    text: { x: 14, y: 242, w: 272 },
    title: { size: 16, line: 21, lines: 2 },
    price: 18,
    button: false,
  },
};

const FONT = "Roboto";
const ACCENT = "#d7263d";
const MUTED = "#52606d";
/** size of the headline line above the title, and of the call to action beside the price */
const SMALL = { card: 13, row: 11, grid: 12 } as const;
const BACKGROUND = "#ffffff";
const INK = "#1f2933";
const PRICE = "#0b6e4f";
/** under pictures with transparency, and the placeholder's panel */
export const PANEL = "#eef0f2";

function text(x: number, y: number, size: number, weight: 400 | 700, fill: string, content: string, anchor = "start") {
  return `<text x="${x}" y="${y}" font-family="${FONT}" font-size="${size}" font-weight="${weight}" fill="${fill}" text-anchor="${anchor}">${escapeXml(content)}</text>`;
}

/** The picture's box in output pixels: a picture of this size is laid in without resampling. */
export function pictureBox(slot: Slot): { x: number; y: number; width: number; height: number } {
  const p = GEOMETRY[slot.layout].pic;
  return { x: p.x * slot.scale, y: p.y * slot.scale, width: p.w * slot.scale, height: p.h * slot.scale };
}

/**
 * Rounded corners painted over in the card's background: the same look as clipping the picture to a
 * rounded rectangle, without the clip mask (which costs resvg a full-size mask pass).
 */
function cornerMask(p: Geometry["pic"], r: number, fill: string): string {
  const { x, y, w, h } = p;
  const d = [
    `M${x} ${y}h${r}a${r} ${r} 0 0 0 ${-r} ${r}z`,
    `M${x + w} ${y}v${r}a${r} ${r} 0 0 0 ${-r} ${-r}z`,
    `M${x + w} ${y + h}h${-r}a${r} ${r} 0 0 0 ${r} ${-r}z`,
    `M${x} ${y + h}v${-r}a${r} ${r} 0 0 0 ${r} ${r}z`,
  ].join("");
  return `<path d="${d}" fill="${fill}"/>`;
}

/** A neutral picture placeholder: a soft panel with a shopping-bag outline. */
function placeholder(p: Geometry["pic"]): string {
  const cx = p.x + p.w / 2;
  const cy = p.y + p.h / 2;
  const s = Math.min(p.w, p.h) / 4;
  return `<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" rx="8" fill="${PANEL}"/>
<path d="M${cx - s} ${cy - s / 2}h${2 * s}l${-s / 4} ${1.6 * s}h${-1.5 * s}z" fill="none" stroke="#c3c9d0" stroke-width="${s / 8}" stroke-linejoin="round"/>
<path d="M${cx - s / 2} ${cy - s / 2}v${-s / 3}a${s / 2} ${s / 2} 0 0 1 ${s} 0v${s / 3}" fill="none" stroke="#c3c9d0" stroke-width="${s / 8}"/>`;
}

function badge(p: Geometry["pic"], label: string): string {
  const size = 12;
  const w = Math.ceil(measure(label, size, 700)) + 16;
  return `<rect x="${p.x + 8}" y="${p.y + 8}" width="${w}" height="22" rx="11" fill="${ACCENT}"/>
${text(p.x + 8 + w / 2, p.y + 23, size, 700, "#ffffff", label, "middle")}`;
}

/**
 * The card's words as the font can draw them (no emoji: each would be an empty box); a field left empty by that
 * is not drawn, as if absent (a call to action of emoji alone: the wide card's "Shop now").
 */
function drawableContent(content: CardContent): CardContent {
  const field = (s: string | undefined) => (s === undefined ? undefined : drawable(s) || undefined);
  return {
    ...content,
    title: drawable(content.title),
    price: drawable(content.price),
    badge: field(content.badge),
    headline: field(content.headline),
    subline: field(content.subline),
    cta: field(content.cta),
  };
}

export function cardSvg(slot: Slot, drawn: CardContent): string {
  const content = drawableContent(drawn);
  const { width, height } = LAYOUTS[slot.layout];
  const px = slotPixels(slot);
  const g = GEOMETRY[slot.layout];
  const p = g.pic;
  const parts: string[] = [];
  if (content.picture) {
    // the background with a hole where the picture goes (box edges fall on whole pixels: no seam)
    parts.push(
      `<path d="M0 0H${width}V${height}H0ZM${p.x} ${p.y}v${p.h}h${p.w}v${-p.h}Z" fill="${BACKGROUND}" fill-rule="evenodd"/>`,
      cornerMask(p, 8, BACKGROUND),
    );
  } else {
    parts.push(`<rect width="${width}" height="${height}" fill="${BACKGROUND}"/>`, placeholder(p));
  }
  if (content.badge) parts.push(badge(p, content.badge));

  const small = SMALL[slot.layout];
  let y = g.text.y;
  if (content.headline) {
    // the headline takes the first title line's place
    const [line] = wrapText(content.headline, g.text.w, small, 1, 700);
    parts.push(text(g.text.x, y + small, small, 700, ACCENT, line ?? ""));
    y += small + 8;
  }
  const titleLines = content.headline ? Math.max(1, g.title.lines - 1) : g.title.lines;
  const lines = wrapText(content.title, g.text.w, g.title.size, titleLines, 700);
  y += g.title.size;
  for (const line of lines) {
    parts.push(text(g.text.x, y, g.title.size, 700, INK, line));
    y += g.title.line;
  }
  const priceY = y + g.price * 0.35;
  if (content.price) parts.push(text(g.text.x, priceY, g.price, 700, PRICE, content.price));
  const buttonY = height - 20 - 44;
  if (g.button && content.subline) {
    // as many lines as fit between the price and the button (at most two)
    const size = 15;
    let sy = priceY + (content.price ? 26 : 4);
    const room = Math.min(2, Math.floor((buttonY - 6 - sy) / 20) + 1);
    const sublines = room > 0 ? wrapText(content.subline, g.text.w, size, room, 400) : [];
    for (const line of sublines) {
      parts.push(text(g.text.x, sy, size, 400, MUTED, line));
      sy += 20;
    }
  }
  if (g.button) {
    const label = content.cta ?? "Shop now";
    const w = Math.min(g.text.w, Math.max(150, Math.ceil(measure(label, 16, 700)) + 32));
    const [fitted] = wrapText(label, w - 16, 16, 1, 700);
    parts.push(
      `<rect x="${g.text.x}" y="${buttonY}" width="${w}" height="44" rx="6" fill="${INK}"/>`,
      text(g.text.x + w / 2, buttonY + 28, 16, 700, "#ffffff", fitted ?? "", "middle"),
    );
  } else if (content.cta) {
    // beside the price, right-aligned, in what the price leaves free
    const free = g.text.w - (content.price ? measure(content.price, g.price, 700) + 10 : 0);
    const [fitted] = wrapText(`${content.cta} ›`, free, small, 1, 700);
    if (fitted) parts.push(text(g.text.x + g.text.w, priceY, small, 700, INK, fitted, "end"));
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${px.width}" height="${px.height}" viewBox="0 0 ${width} ${height}">
${parts.join("\n")}
</svg>`;
}
