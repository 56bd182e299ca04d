/** Reads and creates `.dev.vars` (local secrets for `wrangler dev`; never committed). */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export const DEV_VARS = ".dev.vars";

export function readDevVars(path = DEV_VARS): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (m?.[1]) out[m[1]] = m[2] ?? "";
  }
  return out;
}

/** Creates missing local secrets in `.dev.vars` (random; kept across runs); returns the token secret. */
export function ensureDevVars(path = DEV_VARS): string {
  const vars = readDevVars(path);
  const missing = ["TOKEN_SECRET", "EVENTS_API_KEYS", "ADMIN_API_KEYS"].filter((k) => !vars[k]);
  if (missing.length) {
    const header = Object.keys(vars).length ? "" : "# local secrets for wrangler dev (not committed)\n";
    const lines = missing.map((k) => {
      vars[k] = randomBytes(32).toString("base64url");
      return `${k}="${vars[k]}"`;
    });
    writeFileSync(path, `${header}${lines.join("\n")}\n`, { flag: "a" });
  }
  return vars.TOKEN_SECRET as string;
}

/** TOKEN_SECRET from the environment, else from `.dev.vars`. */
export function tokenSecret(): string {
  const secret = process.env.TOKEN_SECRET ?? readDevVars().TOKEN_SECRET;
  if (!secret)
    throw new Error("no TOKEN_SECRET: set it in the environment or run `npm start` once to create .dev.vars");
  return secret;
}
