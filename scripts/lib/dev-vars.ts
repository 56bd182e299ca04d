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

/** Creates `.dev.vars` with a random TOKEN_SECRET if there is none; returns the secret in use. */
export function ensureDevVars(path = DEV_VARS): string {
  const existing = readDevVars(path).TOKEN_SECRET;
  if (existing) return existing;
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(path, `# local secrets for wrangler dev (not committed)\nTOKEN_SECRET="${secret}"\n`, { flag: "a" });
  return secret;
}

/** TOKEN_SECRET from the environment, else from `.dev.vars`. */
export function tokenSecret(): string {
  const secret = process.env.TOKEN_SECRET ?? readDevVars().TOKEN_SECRET;
  if (!secret)
    throw new Error("no TOKEN_SECRET: set it in the environment or run `npm start` once to create .dev.vars");
  return secret;
}
