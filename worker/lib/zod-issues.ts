/**
 * The one formatter of zod validation errors: each issue as `<path>: <message>` (the path names the bad
 * field, `(root)` for the whole value), at most five, joined by "; ". Messages never echo the input.
 */
import type { z } from "zod";
import { ApiError, type ErrorCode } from "../errors";

const MAX_ISSUES = 5;

export function describeIssues(error: z.ZodError, prefix = ""): string {
  const shown = error.issues.slice(0, MAX_ISSUES).map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join(".");
    return `${path || "(root)"}: ${i.message}`;
  });
  const more = error.issues.length - shown.length;
  return more > 0 ? `${shown.join("; ")}; and ${more} more` : shown.join("; ");
}

/** A 400 (or the given code) naming the bad fields. */
export function invalidInput(error: z.ZodError, code: ErrorCode = "BAD_REQUEST", prefix = ""): ApiError {
  return new ApiError(code, describeIssues(error, prefix));
}
