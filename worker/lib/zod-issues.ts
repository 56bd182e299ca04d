/**
 * The one formatter of zod validation errors: each issue as `<path>: <message>` (the path names the bad field as
 * core/field-path.ts writes it, `blocks[0].when`; `(root)` for the whole value, left out before the whole value's unknown keys, which name themselves), at most five, joined by "; "; a
 * field left out (its key absent from the input, whatever its type) says it is required.
 * Messages echo no value; a key from the input (in a path, or named as unrecognized) is cut to its start, so an
 * answer stays small whatever was sent.
 */
import type { z } from "zod";
import { cutWhole } from "../../core/cut-text";
import { fieldPath } from "../../core/field-path";
import { ApiError, type ErrorCode } from "../errors";

const MAX_ISSUES = 5;
/** The longest path segment shown (a key from the input, cut with "…"). */
const MAX_SEGMENT = 40;
/** The longest message shown per issue (zod names unrecognized keys in it). */
const MAX_MESSAGE = 200;

const cut = (s: string, max: number) => (s.length > max ? `${cutWhole(s, max)}…` : s);

/** The input a parse was given, when the caller has it: a field is then told missing by its key being absent. */
export interface ParsedInput {
  input: unknown;
}

/** Whether `path` ends at a key absent from the object holding it in `input` (or `input` itself is absent). */
function absentAt(input: unknown, path: readonly PropertyKey[]): boolean {
  let at: unknown = input;
  for (let i = 0; i < path.length; i++) {
    if (at === null || typeof at !== "object") return false;
    const key = path[i] as PropertyKey;
    if (!Object.hasOwn(at, key)) return i === path.length - 1;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at === undefined;
}

/** What the field should have held, as zod's issue says it (`string`, `"a"|"b"`, …), when it says. */
function expectation(issue: z.core.$ZodIssue): string | null {
  if (issue.code === "invalid_type") return issue.expected;
  const shown = (vs: readonly unknown[]) =>
    (vs.length === 1 ? "" : "one of ") + vs.map((v) => JSON.stringify(v) ?? String(v)).join("|");
  if (issue.code === "invalid_value") return shown(issue.values);
  const options = (issue as { options?: unknown }).options;
  if (issue.code === "invalid_union" && Array.isArray(options)) return shown(options);
  return null;
}

/**
 * A field left out, said as such (whatever its type: object, enum, literal, union): zod's "Invalid input: expected
 * object, received undefined" or "Invalid option: …" reads as a bad value to someone who sent none. With the input,
 * "left out" is its key being absent; without it (a stored value's log line), zod's "received undefined".
 */
function missing(issue: z.core.$ZodIssue, from?: ParsedInput): string | null {
  if (issue.code === "custom") return null; // a rule's own words say more
  const left = from
    ? absentAt(from.input, issue.path)
    : issue.code === "invalid_type" && /received undefined$/.test(issue.message);
  if (!left) return null;
  const expected = expectation(issue);
  return expected ? `required, but missing (expected ${cut(expected, MAX_MESSAGE)})` : "required, but missing";
}

/** Each issue as `<path>: <message>` (see the module comment); `from`: the parsed input, to tell fields left out. */
export function describeIssues(error: z.ZodError, prefix = "", from?: ParsedInput): string {
  const shown = error.issues.slice(0, MAX_ISSUES).map((i) => {
    const path = fieldPath(
      i.path.map((p) => (typeof p === "number" ? p : cut(String(p), MAX_SEGMENT))),
      prefix,
    );
    const message = cut(missing(i, from) ?? i.message, MAX_MESSAGE);
    // unknown keys of the whole value name themselves: "(root): " before them says nothing
    if (!path && i.code === "unrecognized_keys") return message;
    return `${path || "(root)"}: ${message}`;
  });
  const more = error.issues.length - shown.length;
  return more > 0 ? `${shown.join("; ")}; and ${more} more` : shown.join("; ");
}

/** A 400 (or the given code) naming the bad fields. */
export function invalidInput(
  error: z.ZodError,
  code: ErrorCode = "BAD_REQUEST",
  prefix = "",
  from?: ParsedInput,
): ApiError {
  return new ApiError(code, describeIssues(error, prefix, from));
}
