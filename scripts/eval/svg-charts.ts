/** Minimal SVG charts for the evaluation report: grouped bars, a calibration curve, a scatter. */
import { escapeXml } from "../../core/escape-xml";

const PALETTE = [
  "#2a6f97",
  "#e07a5f",
  "#81b29a",
  "#f2cc8f",
  "#6d597a",
  "#3d405b",
  "#b56576",
  "#90be6d",
  "#577590",
  "#f94144",
];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

export function groupedBars(
  title: string,
  groups: string[],
  series: { name: string; values: (number | null)[] }[],
  yLabel: string,
): string {
  const w = 760;
  const h = 360;
  const left = 60;
  const bottom = 60;
  const top = 40;
  const plotH = h - top - bottom;
  const max = Math.max(0.01, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null))) * 1.1;
  const groupW = (w - left - 20) / groups.length;
  const barW = (groupW * 0.8) / series.length;
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" ${FONT} font-size="12">`,
    `<rect width="${w}" height="${h}" fill="#fff"/>`,
    `<text x="${w / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    parts.push(`<line x1="${left}" x2="${w - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  parts.push(
    `<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + groupW * 0.1;
    series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === null || v === undefined) return;
      parts.push(
        `<rect x="${gx + si * barW}" y="${y(v)}" width="${barW - 2}" height="${top + plotH - y(v)}" fill="${PALETTE[si % PALETTE.length]}"><title>${escapeXml(`${g} ${s.name}: ${v.toFixed(4)}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${gx + (groupW * 0.8) / 2}" y="${h - bottom + 16}" text-anchor="middle">${escapeXml(g)}</text>`,
    );
  });
  series.forEach((s, si) => {
    const lx = left + si * 110;
    parts.push(
      `<rect x="${lx}" y="${h - 24}" width="12" height="12" fill="${PALETTE[si % PALETTE.length]}"/><text x="${lx + 16}" y="${h - 14}">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

export function calibrationCurve(
  title: string,
  bins: { mean_predicted: number; observed_rate: number; count: number }[],
): string {
  const s = 360;
  const m = 50;
  const p = s - 2 * m;
  const xy = (a: number, b: number) => `${m + a * p},${s - m - b * p}`;
  const pts = bins.map((b) => xy(b.mean_predicted, b.observed_rate));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${s}" height="${s}" viewBox="0 0 ${s} ${s}" ${FONT} font-size="12">`,
    `<rect width="${s}" height="${s}" fill="#fff"/>`,
    `<text x="${s / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<rect x="${m}" y="${m}" width="${p}" height="${p}" fill="none" stroke="#ccc"/>`,
    `<line x1="${m}" y1="${s - m}" x2="${s - m}" y2="${m}" stroke="#999" stroke-dasharray="4 4"/>`,
    `<polyline points="${pts.join(" ")}" fill="none" stroke="#2a6f97" stroke-width="2"/>`,
    ...bins.map(
      (b) =>
        `<circle cx="${m + b.mean_predicted * p}" cy="${s - m - b.observed_rate * p}" r="4" fill="#2a6f97"><title>predicted ${b.mean_predicted.toFixed(3)}, observed ${b.observed_rate.toFixed(3)}, n=${b.count}</title></circle>`,
    ),
    `<text x="${s / 2}" y="${s - 14}" text-anchor="middle">mean predicted probability</text>`,
    `<text x="14" y="${s / 2}" transform="rotate(-90 14 ${s / 2})" text-anchor="middle">observed purchase rate</text>`,
    `<text x="${m}" y="${s - m + 14}">0</text><text x="${s - m}" y="${s - m + 14}" text-anchor="end">1</text>`,
    "</svg>",
  ].join("\n");
}

export function scatter(
  title: string,
  points: { x: number; y: number; group: number }[],
  groupNames: string[],
  xLabel: string,
  yLabel: string,
): string {
  const w = 640;
  const h = 440;
  const m = 50;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const px = (x: number) => m + ((x - x0) / (x1 - x0 || 1)) * (w - 2 * m - 150);
  const py = (y: number) => h - m - ((y - y0) / (y1 - y0 || 1)) * (h - 2 * m);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" ${FONT} font-size="12">`,
    `<rect width="${w}" height="${h}" fill="#fff"/>`,
    `<text x="${w / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...points.map(
      (p) =>
        `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="2.2" fill="${PALETTE[p.group % PALETTE.length]}" fill-opacity="0.6"/>`,
    ),
    ...groupNames.map(
      (g, i) =>
        `<rect x="${w - 190}" y="${60 + i * 20}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/><text x="${w - 172}" y="${71 + i * 20}">${escapeXml(g)}</text>`,
    ),
    `<text x="${(w - 150) / 2}" y="${h - 12}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text x="14" y="${h / 2}" transform="rotate(-90 14 ${h / 2})" text-anchor="middle">${escapeXml(yLabel)}</text>`,
    "</svg>",
  ].join("\n");
}
