/**
 * The dashboard's charts as SVG strings (no script, no library): intervals around an estimate per row (a
 * forest plot of uplifts, with the line of no effect), and lines over days (exposures, clicks, bandit shares,
 * PSI). Every label is escaped; numbers are drawn as given and also carried in `data-value` attributes, so a
 * test can read what a chart shows. Pure.
 */
import { escapeXml } from "../../core/escape-xml";

export interface IntervalRow {
  label: string;
  estimate: number | null;
  low: number | null;
  high: number | null;
}

const WIDTH = 560;
const LABEL = 170;
/** The widest the labels' column grows to fit its labels (an arm id of 32 and its metric: about 330) */
const MAX_LABEL = 340;
const ROW = 36;
/** A colour per line: as many as an experiment has arms (MAX_VARIANTS and the holdout), then again from the first. */
const PALETTE = [
  "#2563eb",
  "#dc2626",
  "#059669",
  "#d97706",
  "#7c3aed",
  "#0891b2",
  "#be185d",
  "#4d7c0f",
  "#111827",
  "#92400e",
  "#94a3b8",
];

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Characters' widths in em, from above (DejaVu Sans's, wider than most system fonts): the rest 0.64. */
const NARROW = /[ijl.,:;'|! ]/;
const SLIM = /[frtI()[\]/-]/;
const WIDE = /[mwMW%@]/;

/** A text's width at `size` px, from above: an SVG cannot measure its own texts without a script. */
function textWidth(text: string, size: number): number {
  let em = 0;
  for (const ch of text)
    em += NARROW.test(ch) ? 0.32 : SLIM.test(ch) ? 0.42 : WIDE.test(ch) ? 1 : /[A-Z]/.test(ch) ? 0.76 : 0.64;
  return em * size;
}

/** `text` cut to `width` px at `size`, the cut in the middle (an ellipsis), so both its ends stay. */
function cut(text: string, size: number, width: number): string {
  if (textWidth(text, size) <= width) return text;
  const chars = [...text];
  let head = 0;
  let tail = 0;
  // a character from each end in turn while the two ends and the ellipsis fit
  for (let used = textWidth("\u2026", size); head + tail < chars.length; ) {
    const next = head <= tail ? (chars[head] as string) : (chars[chars.length - 1 - tail] as string);
    used += textWidth(next, size);
    if (used > width) break;
    if (head <= tail) head++;
    else tail++;
  }
  return `${chars.slice(0, head).join("")}\u2026${chars.slice(chars.length - tail).join("")}`;
}

/** Intervals as horizontal bars around their estimate, on one axis that holds them all and 0. */
export function intervalChart(title: string, rows: readonly IntervalRow[]): string {
  const known = rows.filter((r) => r.estimate !== null && r.low !== null && r.high !== null);
  const values = known.flatMap((r) => [r.low as number, r.high as number]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const span = hi - lo || 1;
  // the labels' column as wide as its longest label needs (within MAX_LABEL), the chart as much wider
  const label = Math.ceil(Math.min(MAX_LABEL, Math.max(LABEL, ...rows.map((r) => textWidth(r.label, 12) + 10))));
  const width = WIDTH + label - LABEL;
  const plot = WIDTH - LABEL - 20;
  const x = (v: number) => label + ((v - lo) / span) * plot;
  const height = ROW * rows.length + 44;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<line x1="${x(0).toFixed(1)}" y1="8" x2="${x(0).toFixed(1)}" y2="${height - 28}" stroke="#9aa5b1" stroke-dasharray="3 3"/>`,
  ];
  rows.forEach((r, i) => {
    const y = 20 + i * ROW;
    parts.push(
      `<text x="0" y="${y + 4}" font-size="12" fill="#1f2933">${escapeXml(cut(r.label, 12, label - 10))}</text>`,
    );
    if (r.estimate === null || r.low === null || r.high === null) {
      parts.push(`<text x="${label}" y="${y + 4}" font-size="12" fill="#7b8794">not enough data</text>`);
      return;
    }
    const color = r.low > 0 ? "#059669" : r.high < 0 ? "#dc2626" : "#52606d";
    parts.push(
      `<g data-row="${escapeXml(r.label)}" data-value="${r.estimate}" data-low="${r.low}" data-high="${r.high}">`,
      `<line x1="${x(r.low).toFixed(1)}" y1="${y}" x2="${x(r.high).toFixed(1)}" y2="${y}" stroke="${color}" stroke-width="4" stroke-linecap="round"/>`,
      `<circle cx="${x(r.estimate).toFixed(1)}" cy="${y}" r="5" fill="#fff" stroke="${color}" stroke-width="2"/>`,
      // the figures under the bar, from its start, or ending at the chart's edge when they would run past it
      figures(`${pct(r.estimate)} [${pct(r.low)}, ${pct(r.high)}]`, x(r.low), y + 16, width),
      "</g>",
    );
  });
  const axisY = height - 12;
  // the axis: 0, and each end that is not 0 and leaves room for the 0's label (an end that close to 0 goes unwritten:
  // the 0 and the other end give the scale)
  const room = (end: number) => Math.abs(x(end) - x(0)) >= textWidth(pct(end), 11) + textWidth("0", 11) / 2 + 4;
  if (lo < 0 && room(lo))
    parts.push(`<text x="${x(lo).toFixed(1)}" y="${axisY}" font-size="11" fill="#7b8794">${pct(lo)}</text>`);
  parts.push(`<text x="${x(0).toFixed(1)}" y="${axisY}" font-size="11" fill="#7b8794" text-anchor="middle">0</text>`);
  if (hi > 0 && room(hi))
    parts.push(
      `<text x="${x(hi).toFixed(1)}" y="${axisY}" font-size="11" fill="#7b8794" text-anchor="end">${pct(hi)}</text>`,
    );
  parts.push("</svg>");
  return parts.join("");
}

/** A row's figures at `x`, or ending at the chart's right edge when from `x` they would run past it. */
function figures(text: string, x: number, y: number, width: number): string {
  const end = x + textWidth(text, 11) > width;
  const at = end ? `x="${width}" text-anchor="end"` : `x="${x.toFixed(1)}"`;
  return `<text ${at} y="${y}" font-size="11" fill="#52606d">${text}</text>`;
}

export interface Series {
  name: string;
  /** its place in the palette (default: its place among the series), so a thing has one colour in every chart */
  colour?: number;
  /** by x label (a day), in the order of `xs` */
  values: readonly (number | null)[];
}

/** Lines over shared x labels (days), with a legend; `format` writes the y axis's extremes. */
export function lineChart(
  title: string,
  xs: readonly string[],
  series: readonly Series[],
  format: (v: number) => string = (v) => String(Math.round(v * 100) / 100),
  threshold?: number,
): string {
  const left = 48;
  const top = 14;
  const plotW = WIDTH - left - 12;
  const plotH = 200 - top - 46;
  // the legend in rows under the plot, an entry moved to the next row when it would run past the chart's edge
  const legend: { x: number; row: number }[] = [];
  let legendX = left;
  let legendRow = 0;
  for (const s of series) {
    const entry = 14 + textWidth(s.name, 11);
    if (legendX > left && legendX + entry > WIDTH) [legendX, legendRow] = [left, legendRow + 1];
    legend.push({ x: legendX, row: legendRow });
    legendX += entry + 10;
  }
  const height = 200 + 16 * legendRow;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const hi = Math.max(threshold ?? 0, ...all, 0) || 1;
  const x = (i: number) => left + (xs.length <= 1 ? plotW / 2 : (i / (xs.length - 1)) * plotW);
  const y = (v: number) => top + plotH - (v / hi) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#cbd2d9"/>`,
    `<text x="${left - 6}" y="${top + 4}" font-size="11" fill="#7b8794" text-anchor="end">${escapeXml(format(hi))}</text>`,
    `<text x="${left - 6}" y="${top + plotH}" font-size="11" fill="#7b8794" text-anchor="end">${escapeXml(format(0))}</text>`,
  ];
  if (threshold !== undefined) {
    parts.push(
      `<line x1="${left}" y1="${y(threshold).toFixed(1)}" x2="${left + plotW}" y2="${y(threshold).toFixed(1)}" stroke="#dc2626" stroke-dasharray="4 3"/>`,
    );
  }
  if (xs.length === 1) {
    // one day: named once, under its point (both ends named alike would read as a span)
    parts.push(
      `<text x="${x(0).toFixed(1)}" y="${top + plotH + 14}" font-size="11" fill="#7b8794" text-anchor="middle">${escapeXml(xs[0])}</text>`,
    );
  } else if (xs.length > 1) {
    parts.push(
      `<text x="${left}" y="${top + plotH + 14}" font-size="11" fill="#7b8794">${escapeXml(xs[0])}</text>`,
      `<text x="${left + plotW}" y="${top + plotH + 14}" font-size="11" fill="#7b8794" text-anchor="end">${escapeXml(xs.at(-1))}</text>`,
    );
  }
  series.forEach((s, k) => {
    const color = PALETTE[(s.colour ?? k) % PALETTE.length];
    const points = s.values.flatMap((v, i) => (v === null ? [] : [`${x(i).toFixed(1)},${y(v).toFixed(1)}`]));
    parts.push(`<g data-series="${escapeXml(s.name)}" data-values="${escapeXml(JSON.stringify(s.values))}">`);
    if (points.length > 1)
      parts.push(`<polyline points="${points.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of points) {
      const [px, py] = p.split(",");
      parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${color}"/>`);
    }
    parts.push("</g>");
    const { x: lx, row } = legend[k] as { x: number; row: number };
    const ly = 200 + 16 * row;
    parts.push(
      `<rect x="${lx.toFixed(1)}" y="${ly - 16}" width="10" height="10" fill="${color}"/>`,
      `<text x="${(lx + 14).toFixed(1)}" y="${ly - 7}" font-size="11" fill="#1f2933">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}
