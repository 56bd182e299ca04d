/** Reads and creates `.dev.vars` (local secrets and settings for `wrangler dev`; never committed). */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { isPlaceholderSecret, MIN_SECRET_LENGTH } from "../../core/placeholder-secret";
import { isLoopbackHost } from "../../core/web-url";

export const DEV_VARS = ".dev.vars";

/** The file's variables as wrangler reads them (dotenv syntax: quotes, comments, `export`), `{}` without one. */
export function readDevVars(path = DEV_VARS): Record<string, string> {
  if (!existsSync(path)) return {};
  return Object.fromEntries(
    Object.entries(parseEnv(readFileSync(path, "utf8"))).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

/** Local-only settings `npm start` adds when missing (a value already there, even "false", is kept). */
export const LOCAL_DEV_VARS: Readonly<Record<string, string>> = {
  // the demo shop and the open preview page: never in wrangler.toml, so `wrangler deploy` never ships them
  DEMO_ROUTES: "true",
};

/** The local secrets `npm start` writes; the key lists are comma-separated (several keys for rotation). */
const LOCAL_SECRETS = ["TOKEN_SECRET", "EVENTS_API_KEYS", "ADMIN_API_KEYS", "TRIGGER_WEBHOOK_SECRET"];
const KEY_LISTS = new Set(["EVENTS_API_KEYS", "ADMIN_API_KEYS"]);

/** Whether the Worker takes `key` (worker/env.ts): neither `.dev.vars.example`'s placeholder nor too short. */
const workerTakes = (key: string) => !isPlaceholderSecret(key) && key.length >= MIN_SECRET_LENGTH;

/** Whether the Worker takes anything of `value` as `name`: the secret, or one key of a list. */
const takenByWorker = (name: string, value: string) =>
  (KEY_LISTS.has(name) ? value.split(",").map((k) => k.trim()) : [value]).some(workerTakes);

/**
 * Creates missing local secrets in `.dev.vars` (random; kept across runs) and the local-only settings;
 * an existing file keeps every line and gets the missing ones appended. Returns the token secret. `log` hears
 * which secrets it wrote over (by name, never a value).
 */
export function ensureDevVars(path = DEV_VARS, log: (message: string) => void = () => {}): string {
  const vars = readDevVars(path);
  // a `.dev.vars` copied from `.dev.vars.example` holds its placeholders, and a hand-written one may hold a secret
  // too short, which the Worker ignores (core/placeholder-secret.ts): every token npm start prints would be refused,
  // every key answered 401. Each such value is written over, in its own line, with a random one; a key list the
  // Worker takes one key of is kept
  const placeheld = LOCAL_SECRETS.filter((k) => vars[k] && !takenByWorker(k, vars[k]));
  if (placeheld.length > 0) {
    log(
      `.dev.vars: wrote random values over ${placeheld.join(", ")}, which the Worker ignores (a placeholder, or ` +
        `shorter than ${MIN_SECRET_LENGTH} characters)`,
    );
    let text = readFileSync(path, "utf8");
    for (const k of placeheld) {
      vars[k] = randomBytes(32).toString("base64url");
      text = text.replace(new RegExp(`^([ \\t]*(?:export[ \\t]+)?${k}[ \\t]*=).*$`, "gm"), `$1"${vars[k]}"`);
    }
    writeFileSync(path, text);
  }
  const lines = LOCAL_SECRETS.filter((k) => !vars[k]).map((k) => {
    vars[k] = randomBytes(32).toString("base64url");
    return `${k}="${vars[k]}"`;
  });
  for (const [k, v] of Object.entries(LOCAL_DEV_VARS)) {
    if (vars[k] === undefined) {
      vars[k] = v;
      lines.push(`${k}="${v}"`);
    }
  }
  if (lines.length) {
    const existing = existsSync(path) ? readFileSync(path, "utf8") : "";
    let header = existing ? "" : "# local secrets and settings for wrangler dev (not committed)\n";
    if (existing && !existing.endsWith("\n")) header = "\n";
    writeFileSync(path, `${header}${lines.join("\n")}\n`, { flag: "a" });
  }
  return vars.TOKEN_SECRET as string;
}

/**
 * TOKEN_SECRET from the environment, else from `.dev.vars`; refused, as the Worker ignores it, when shorter than
 * MIN_SECRET_LENGTH or a placeholder: a token signed with it would open nothing.
 */
export function tokenSecret(): string {
  const secret = process.env.TOKEN_SECRET ?? readDevVars().TOKEN_SECRET;
  if (!secret)
    throw new Error("no TOKEN_SECRET: set it in the environment or run `npm start` once to create .dev.vars");
  const problem = tokenSecretProblem(secret);
  if (problem) throw new Error(problem);
  return secret;
}

/** Why the Worker would ignore `secret` as its TOKEN_SECRET (a placeholder, or too short), or null. */
export function tokenSecretProblem(secret: string): string | null {
  if (isPlaceholderSecret(secret))
    return "TOKEN_SECRET is .dev.vars.example's placeholder, which the Worker ignores (it refuses every token): set the Worker's own secret, or run `npm start` once to replace it";
  if (secret.length < MIN_SECRET_LENGTH)
    return `TOKEN_SECRET is shorter than ${MIN_SECRET_LENGTH} characters, which the Worker ignores (it refuses every token): set the Worker's own secret (README, Configuration)`;
  return null;
}

/**
 * The admin key the CLIs send to the Worker at `url`: ADMIN_API_KEY from the environment, else the first key of
 * ADMIN_API_KEYS from the environment the Worker takes (firstKey), else (for a Worker on this machine only, so the
 * local secret never goes to a deployed one) that of ADMIN_API_KEYS in `.dev.vars`. Without one, the error names
 * both the key and `flag`, the CLI's option for the Worker's address (`--url`, `--api-url`): how to point at a
 * deployed Worker.
 */
export function adminKey(url: string, flag: "--url" | "--api-url"): string {
  const local = isLoopbackHost(new URL(url).hostname);
  const key =
    process.env.ADMIN_API_KEY?.trim() ||
    firstKey(process.env.ADMIN_API_KEYS) ||
    (local ? firstKey(readDevVars().ADMIN_API_KEYS) : undefined);
  if (!key)
    throw new Error(
      local
        ? `no admin key for the Worker on this machine (${flag} ${url}): set ADMIN_API_KEY (or run \`npm start\` once to create a local .dev.vars); for a deployed Worker, give its address with ${flag} https://<your worker> and set ADMIN_API_KEY to one of its ADMIN_API_KEYS`
        : `no admin key for the Worker at ${url} (${flag}): set ADMIN_API_KEY to one of its ADMIN_API_KEYS (.dev.vars' local key is never sent to a Worker elsewhere)`,
    );
  return key;
}

/**
 * The key of a comma-separated list a CLI sends: the first the Worker takes (neither a placeholder nor shorter than
 * MIN_SECRET_LENGTH: ensureDevVars keeps a list holding one such key beside keys the Worker ignores), else the first.
 */
export function firstKey(keys: string | undefined): string | undefined {
  const all = keys?.split(",").map((k) => k.trim());
  return all?.find(workerTakes) ?? all?.[0];
}
