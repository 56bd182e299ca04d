/**
 * Escapes text for XML and HTML (SVG cards and charts, demo pages, email parts): the five significant
 * characters, as entities both understand. `/` and `=` are left alone, so URLs stay as link trackers see them.
 */
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeXml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (ch) => ESCAPES[ch] as string);
}
