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
const ROW = 36;
const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f"];

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Intervals as horizontal bars around their estimate, on one axis that holds them all and 0. */
export function intervalChart(title: string, rows: readonly IntervalRow[]): string {
  const known = rows.filter((r) => r.estimate !== null && r.low !== null && r.high !== null);
  const values = known.flatMap((r) => [r.low as number, r.high as number]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const span = hi - lo || 1;
  const plot = WIDTH - LABEL - 20;
  const x = (v: number) => LABEL + ((v - lo) / span) * plot;
  const height = ROW * rows.length + 44;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<line x1="${x(0).toFixed(1)}" y1="8" x2="${x(0).toFixed(1)}" y2="${height - 28}" stroke="#9aa5b1" stroke-dasharray="3 3"/>`,
  ];
  rows.forEach((r, i) => {
    const y = 20 + i * ROW;
    parts.push(`<text x="0" y="${y + 4}" font-size="12" fill="#1f2933">${escapeXml(r.label)}</text>`);
    if (r.estimate === null || r.low === null || r.high === null) {
      parts.push(`<text x="${LABEL}" y="${y + 4}" font-size="12" fill="#7b8794">not enough data</text>`);
      return;
    }
    const color = r.low > 0 ? "#059669" : r.high < 0 ? "#dc2626" : "#52606d";
    parts.push(
      `<g data-row="${escapeXml(r.label)}" data-value="${r.estimate}" data-low="${r.low}" data-high="${r.high}">`,
      `<line x1="${x(r.low).toFixed(1)}" y1="${y}" x2="${x(r.high).toFixed(1)}" y2="${y}" stroke="${color}" stroke-width="4" stroke-linecap="round"/>`,
      `<circle cx="${x(r.estimate).toFixed(1)}" cy="${y}" r="5" fill="#fff" stroke="${color}" stroke-width="2"/>`,
      // the figures under the bar, from its start: never over the bar or past the edge
      `<text x="${x(r.low).toFixed(1)}" y="${y + 16}" font-size="11" fill="#52606d">${pct(r.estimate)} [${pct(r.low)}, ${pct(r.high)}]</text>`,
      "</g>",
    );
  });
  const axisY = height - 12;
  // the axis: 0, and each end that is not 0
  if (lo < 0) parts.push(`<text x="${x(lo).toFixed(1)}" y="${axisY}" font-size="11" fill="#7b8794">${pct(lo)}</text>`);
  parts.push(`<text x="${x(0).toFixed(1)}" y="${axisY}" font-size="11" fill="#7b8794" text-anchor="middle">0</text>`);
  if (hi > 0)
    parts.push(
      `<text x="${x(hi).toFixed(1)}" y="${axisY}" font-size="11" fill="#7b8794" text-anchor="end">${pct(hi)}</text>`,
    );
  parts.push("</svg>");
  return parts.join("");
}

export interface Series {
  name: string;
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
  const height = 200;
  const left = 48;
  const top = 14;
  const plotW = WIDTH - left - 12;
  const plotH = height - top - 46;
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
  if (xs.length > 0) {
    parts.push(
      `<text x="${left}" y="${top + plotH + 14}" font-size="11" fill="#7b8794">${escapeXml(xs[0])}</text>`,
      `<text x="${left + plotW}" y="${top + plotH + 14}" font-size="11" fill="#7b8794" text-anchor="end">${escapeXml(xs.at(-1))}</text>`,
    );
  }
  let legendX = left;
  series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    const points = s.values.flatMap((v, i) => (v === null ? [] : [`${x(i).toFixed(1)},${y(v).toFixed(1)}`]));
    parts.push(`<g data-series="${escapeXml(s.name)}" data-values="${escapeXml(JSON.stringify(s.values))}">`);
    if (points.length > 1)
      parts.push(`<polyline points="${points.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of points) {
      const [px, py] = p.split(",");
      parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${color}"/>`);
    }
    parts.push("</g>");
    const lx = legendX;
    legendX += 24 + 7 * s.name.length;
    parts.push(
      `<rect x="${lx}" y="${height - 16}" width="10" height="10" fill="${color}"/>`,
      `<text x="${lx + 14}" y="${height - 7}" font-size="11" fill="#1f2933">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}
