/**
 * A stored campaign's entity tag (a strong ETag: the SHA-256 of its stored JSON, so equal campaigns have equal
 * tags whoever wrote them) and the `If-Match` header a replace is checked against (RFC 9110 13.1.1: `*`, or
 * strong tags separated by commas; a weak tag `W/"..."` never matches).
 */
import { sha256Hex } from "../../core/manifest";

export async function campaignEtag(storedText: string): Promise<string> {
  return `"${(await sha256Hex(new TextEncoder().encode(storedText))).slice(0, 32)}"`;
}

/** `*` (any stored campaign), the strong tags given, or null without the header. */
export type IfMatch = "*" | string[] | null;

/** The header as an IfMatch; `invalid` when it is neither `*` nor a list of entity tags. */
export function parseIfMatch(header: string | undefined): IfMatch | "invalid" {
  if (header === undefined) return null;
  if (header.trim() === "*") return "*";
  const tags = header.split(",").map((t) => t.trim());
  if (tags.some((t) => !/^(W\/)?"[\x21\x23-\x7e]*"$/.test(t))) return "invalid";
  // a weak tag never matches (If-Match compares strongly)
  return tags.filter((t) => !t.startsWith("W/"));
}

/** Whether a campaign whose tag is `current` (null: none stored) passes `ifMatch`. */
export function matches(ifMatch: IfMatch, current: string | null): boolean {
  if (ifMatch === null) return true;
  if (current === null) return false;
  return ifMatch === "*" || ifMatch.includes(current);
}
