/**
 * One structured log line per event (JSON), readable in `wrangler tail` and Workers Logs. Logs name no
 * reader and carry no token: every string field and field name, at any depth (in arrays and objects), is scrubbed of KV keys
 * that hold a user id, long base64url runs (tokens), URL paths that carry either (`/v1/img/<token>/...`,
 * `/v1/users/<id>`) and email addresses, whatever the caller passed.
 */

export type LogLevel = "info" | "warn" | "error";

/**
 * What reads as `@` and `.` in an address (core/events.ts asWritten): the characters NFKC folds into them (fullwidth,
 * small; a dot leader; the ideographic full stops, which IDNA reads as dots) and their percent-encodings, encoded
 * again any number of times (`%40`, `%2540`). Each alternative starts with a character the others cannot.
 */
const AT = "(?:[@\\uFF20\\uFE6B]|%(?:25)*40)";
const DOT = "(?:[.\\uFF0E\\uFE52\\u2024\\u3002\\uFE12\\uFF61]|%(?:25)*2[eE])";
/** A domain label in any script. */
const LABEL = "[\\p{L}\\p{M}\\p{N}-]{1,63}";

/** Linear patterns only (no backtracking run is followed by a requirement that can fail). */
const SCRUBS: [RegExp, string][] = [
  // URL paths whose next segment is a token or a user id
  [/\/v1\/(img|c|e|users|preview)\/[^\s"'?#]*/g, "/v1/$1/<redacted>"],
  // KV keys that name a user (core/kv-keys.ts)
  [/\b(profile|seen|features|decision):[^\s"',]+/g, "$1:<redacted>"],
  // any long base64url run: a token's claims or signature (never shorter than this), or an id inside one
  [/[A-Za-z0-9_-]{24,}/g, "<redacted>"],
  // an email address (and a URL's `user:password@host`), whatever quoted it, its domain in any script (`exämple.com`,
  // `例え.jp`: an address the events API refuses as one, core/events.ts looksLikeEmail), written with a look-alike
  // `@` or `.` or a percent-encoded one as the events API reads it (`jane＠example。com`, `jane%2540example.com`):
  // each part bounded (up to three dots in a row: a dot leader `‥` reads as two), so each position is tried over at
  // most a few hundred characters
  [
    new RegExp(`[^\\s"'<>@\\uFF20\\uFE6B,;:()[\\]\\\\/]{1,64}${AT}${LABEL}(?:${DOT}{1,3}${LABEL}){1,8}`, "gu"),
    "<email>",
  ],
];
/** Longest string field kept in a log line. */
const MAX_FIELD_LENGTH = 1000;

export function scrub(text: string): string {
  let out = scrubbed(text);
  // what only NFKC shows (a dot leader `‥`, a fullwidth `％４０`, as core/events.ts asWritten reads an id): a field
  // holding it is logged as NFKC reads it, scrubbed; any other keeps its characters
  const folded = out.normalize("NFKC");
  if (folded !== out) {
    const again = scrubbed(folded);
    if (again !== folded) out = again;
  }
  return out.length > MAX_FIELD_LENGTH ? `${out.slice(0, MAX_FIELD_LENGTH)}…` : out;
}

function scrubbed(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SCRUBS) out = out.replace(pattern, replacement);
  return out;
}

/** A plain object's fields, each name scrubbed as its value is: an object keyed by data (`{[item]: n}`) names it. */
function scrubFields(fields: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [scrub(k), scrubValue(v)]));
}

function scrubValue(value: unknown): unknown {
  if (typeof value === "string") return scrub(value);
  if (Array.isArray(value)) return value.map(scrubValue);
  // a plain object's fields (a Date, or anything with its own toJSON, is left to JSON.stringify as before)
  if (value !== null && typeof value === "object" && [Object.prototype, null].includes(Object.getPrototypeOf(value)))
    return scrubFields(value);
  return value;
}

export function logEvent(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  const clean = scrubFields(fields);
  const line = JSON.stringify({ level, event, ...clean, at: new Date().toISOString() });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
