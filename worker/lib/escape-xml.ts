/** Escapes text for XML and HTML (SVG cards, demo pages): the five significant characters as numeric references. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
