/**
 * Escapes text for XML and HTML (SVG cards and charts, demo pages, email parts): the five significant
 * characters, as entities both understand, and drops what XML 1.0 does not allow at all (control characters
 * but tab, line feed and carriage return; U+FFFE, U+FFFF; lone surrogates become U+FFFD), which resvg refuses
 * whole. `/` and `=` are left alone, so URLs stay as link trackers see them.
 */
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML 1.0 refuses
const NOT_XML = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g;

export function escapeXml(s: unknown): string {
  return String(s)
    .toWellFormed()
    .replace(NOT_XML, "")
    .replace(/[&<>"']/g, (ch) => ESCAPES[ch] as string);
}
