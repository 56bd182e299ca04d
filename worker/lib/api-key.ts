/** Bearer API-key middleware: constant-time comparison against the configured keys (rotation: several). */
import { createMiddleware } from "hono/factory";
import { type AppEnv, type Config, getConfig } from "../env";
import { ApiError } from "../errors";

function equal(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export const requireApiKey = (which: (config: Config) => readonly string[], name: string) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header("Authorization") ?? "";
    const key = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    const allowed = which(getConfig(c.env));
    if (!key || !allowed.some((k) => equal(k, key))) {
      throw new ApiError("UNAUTHORIZED", `a valid ${name} API key is required (Authorization: Bearer <key>)`);
    }
    await next();
  });
