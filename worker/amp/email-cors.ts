/**
 * The AMP for Email CORS protocol, as middleware for every endpoint an AMP email calls.
 * v2: `AMP-Email-Sender` checked against the allow-list, answered with `AMP-Email-Allow-Sender`.
 * v1 (deprecated, still sent): `Origin` + `__amp_source_origin`, answered with the echoed Origin,
 * `AMP-Access-Control-Allow-Source-Origin` and the expose header; credentials allowed for `Origin: null`.
 * v2 wins when both are present. Neither -> 403 NOT_AMP_REQUEST.
 */
import { createMiddleware } from "hono/factory";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { isSenderAllowed } from "./sender-allowlist";

export const emailCors = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const { allowedSenders } = getConfig(c.env);
    const origin = c.req.header("Origin");
    const v2Sender = c.req.header("AMP-Email-Sender");
    const corsHeaders: Record<string, string> = { Vary: "Origin, AMP-Email-Sender" };
    if (origin) {
      corsHeaders["Access-Control-Allow-Origin"] = origin;
      corsHeaders["Access-Control-Allow-Credentials"] = "true";
    }
    if (v2Sender !== undefined) {
      if (!isSenderAllowed(v2Sender, allowedSenders)) {
        throw new ApiError("SENDER_NOT_ALLOWED", `sender ${v2Sender} is not on the allow-list`, corsHeaders);
      }
      await next();
      c.res.headers.set("AMP-Email-Allow-Sender", v2Sender);
    } else {
      const sourceOrigin = c.req.query("__amp_source_origin");
      if (sourceOrigin === undefined) {
        throw new ApiError(
          "NOT_AMP_REQUEST",
          "not an AMP email request: expected the AMP-Email-Sender header (or Origin and __amp_source_origin)",
          corsHeaders,
        );
      }
      if (!isSenderAllowed(sourceOrigin, allowedSenders)) {
        throw new ApiError("SENDER_NOT_ALLOWED", `sender ${sourceOrigin} is not on the allow-list`, corsHeaders);
      }
      await next();
      c.res.headers.set("AMP-Access-Control-Allow-Source-Origin", sourceOrigin);
      c.res.headers.set("Access-Control-Expose-Headers", "AMP-Access-Control-Allow-Source-Origin");
    }
    for (const [k, v] of Object.entries(corsHeaders)) c.res.headers.set(k, v);
  });
