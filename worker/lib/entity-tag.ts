/**
 * Entity tags for the admin API's optimistic edits (campaigns, experiments): a strong ETag is the SHA-256 of the
 * stored JSON, so equal documents have equal tags whoever wrote them; and the preconditions a write is checked
 * against (RFC 9110 13.1.1-2): `If-Match: *` or a list of tags (empty list elements are ignored), or
 * `If-None-Match: *` (only if none is stored). A weak tag `W/"x"` is taken for `"x"`: opentime issues strong tags
 * only, and Cloudflare hands them on weakened whenever it compresses the answer (unless a cache rule has it respect
 * strong ETags), so an editor that sends back the ETag it was given sends `W/"x"`; the tag still names the stored
 * JSON's hash, and only that version passes.
 */
import { sha256Hex } from "../../core/manifest";
import { ApiError } from "../errors";

export async function entityTag(storedText: string): Promise<string> {
  return `"${(await sha256Hex(new TextEncoder().encode(storedText))).slice(0, 32)}"`;
}

/** `*` (any stored document), the strong tags given, `absent` (none stored), or null: no precondition. */
export type IfMatch = "*" | string[] | "absent" | null;

/** The request's preconditions as an IfMatch; `invalid` when a header is malformed, or both are given. */
export function parseIfMatch(ifMatch: string | undefined, ifNoneMatch?: string): IfMatch | "invalid" {
  if (ifNoneMatch !== undefined) return ifMatch === undefined && ifNoneMatch.trim() === "*" ? "absent" : "invalid";
  if (ifMatch === undefined) return null;
  if (ifMatch.trim() === "*") return "*";
  const tags = ifMatch
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  if (tags.length === 0 || tags.some((t) => !/^(W\/)?"[\x21\x23-\x7e]*"$/.test(t))) return "invalid";
  // our own tag, weakened on its way by Cloudflare's compression
  return tags.map((t) => (t.startsWith("W/") ? t.slice(2) : t));
}

/** Whether a document whose tag is `current` (null: none stored) passes `ifMatch`. */
export function matches(ifMatch: IfMatch, current: string | null): boolean {
  if (ifMatch === null) return true;
  if (ifMatch === "absent") return current === null;
  if (current === null) return false;
  return ifMatch === "*" || ifMatch.includes(current);
}

/** The request's preconditions (`If-Match`, or `If-None-Match: *`), or a 400 naming the header when malformed. */
export function preconditionOf(ifMatch: string | undefined, ifNoneMatch: string | undefined): IfMatch {
  const parsed = parseIfMatch(ifMatch, ifNoneMatch);
  if (parsed === "invalid")
    throw new ApiError(
      "BAD_REQUEST",
      'If-Match: not "*" nor a list of entity tags (the ETag a GET gave, in quotes); or If-None-Match other than "*", or with If-Match',
    );
  return parsed;
}
