/** Bearer API-key middleware: constant-time comparison against the configured keys (rotation: several). */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { type AppEnv, type Config, getConfig } from "../env";
import { ApiError } from "../errors";

const BEARER = /^bearer[ \t]+/i;

function equal(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Whether the request's `Authorization: Bearer <key>` holds one of `allowed`. */
export function hasApiKey(c: Context<AppEnv>, allowed: readonly string[]): boolean {
  const header = c.req.header("Authorization") ?? "";
  // the scheme's name is case-insensitive (RFC 9110 section 11.1): `bearer <key>` is a Bearer key too
  const scheme = BEARER.exec(header);
  const key = scheme ? header.slice(scheme[0].length).trim() : "";
  return key !== "" && allowed.some((k) => equal(k, key));
}

export const requireApiKey = (which: (config: Config) => readonly string[], name: string) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (!hasApiKey(c, which(getConfig(c.env)))) {
      throw new ApiError("UNAUTHORIZED", `a valid ${name} API key is required (Authorization: Bearer <key>)`);
    }
    await next();
  });
