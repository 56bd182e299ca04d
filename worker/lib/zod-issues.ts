/**
 * The one formatter of zod validation errors: each issue as `<path>: <message>` (the path names the bad
 * field, `(root)` for the whole value), at most five, joined by "; "; a field left out says it is required.
 * Messages echo no value; a key from the input (in a path, or named as unrecognized) is cut to its start, so an
 * answer stays small whatever was sent.
 */
import type { z } from "zod";
import { cutWhole } from "../../core/cut-text";
import { ApiError, type ErrorCode } from "../errors";

const MAX_ISSUES = 5;
/** The longest path segment shown (a key from the input, cut with "…"). */
const MAX_SEGMENT = 40;
/** The longest message shown per issue (zod names unrecognized keys in it). */
const MAX_MESSAGE = 200;

const cut = (s: string, max: number) => (s.length > max ? `${cutWhole(s, max)}…` : s);

/**
 * A field left out, said as such: zod's "Invalid input: expected object, received undefined" reads as a bad value
 * to someone who sent none.
 */
function missing(issue: z.core.$ZodIssue): string | null {
  if (issue.code !== "invalid_type" || !/received undefined$/.test(issue.message)) return null;
  return `required, but missing (expected ${issue.expected})`;
}

export function describeIssues(error: z.ZodError, prefix = ""): string {
  const shown = error.issues.slice(0, MAX_ISSUES).map((i) => {
    const path = [prefix, ...i.path.map((p) => cut(String(p), MAX_SEGMENT))].filter(Boolean).join(".");
    return `${path || "(root)"}: ${cut(missing(i) ?? i.message, MAX_MESSAGE)}`;
  });
  const more = error.issues.length - shown.length;
  return more > 0 ? `${shown.join("; ")}; and ${more} more` : shown.join("; ");
}

/** A 400 (or the given code) naming the bad fields. */
export function invalidInput(error: z.ZodError, code: ErrorCode = "BAD_REQUEST", prefix = ""): ApiError {
  return new ApiError(code, describeIssues(error, prefix));
}
