/**
 * The AMP for Email CORS protocol, as middleware for every endpoint an AMP email calls.
 * v2: `AMP-Email-Sender` checked against the allow-list, answered with `AMP-Email-Allow-Sender`.
 * v1 (deprecated, still sent): `Origin` + `__amp_source_origin`; the Origin must be there and a mail provider's
 * (worker/amp/mail-origins.ts) and is answered with `Access-Control-Allow-Origin`,
 * `AMP-Access-Control-Allow-Source-Origin` and the expose header; credentials allowed (Yahoo's `Origin: null`).
 * v2 wins when both are present. Neither -> 403 NOT_AMP_REQUEST. Every value that goes back in a header is
 * validated first (a well-formed sender, a listed origin), so no request can make a header throw.
 */
import { createMiddleware } from "hono/factory";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { isMailOrigin } from "./mail-origins";
import { isSenderAllowed, isWellFormedSender } from "./sender-allowlist";

/** The refusal names the sender when it is a well-formed address (never an arbitrary string). */
function notAllowed(sender: string): string {
  return isWellFormedSender(sender)
    ? `sender ${sender} is not on the allow-list`
    : "the sender is not a well-formed address (local@domain)";
}

export const emailCors = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const { allowedSenders, mailOrigins } = getConfig(c.env);
    const origin = c.req.header("Origin");
    const knownOrigin = origin !== undefined && isMailOrigin(origin, mailOrigins) ? origin.trim() : undefined;
    const v2Sender = c.req.header("AMP-Email-Sender");
    const corsHeaders: Record<string, string> = { Vary: "Origin, AMP-Email-Sender" };
    if (knownOrigin) {
      corsHeaders["Access-Control-Allow-Origin"] = knownOrigin;
      corsHeaders["Access-Control-Allow-Credentials"] = "true";
    }
    // a refusal here is never kept by a cache either, as every answer of the routes behind it
    const refusal = { ...corsHeaders, "Cache-Control": "private, no-store" };
    if (v2Sender !== undefined) {
      if (!isSenderAllowed(v2Sender, allowedSenders)) {
        throw new ApiError("SENDER_NOT_ALLOWED", notAllowed(v2Sender), refusal);
      }
      await next();
      c.res.headers.set("AMP-Email-Allow-Sender", v2Sender);
    } else {
      const sourceOrigin = c.req.query("__amp_source_origin");
      if (sourceOrigin === undefined) {
        throw new ApiError(
          "NOT_AMP_REQUEST",
          "not an AMP email request: expected the AMP-Email-Sender header (or Origin and __amp_source_origin)",
          refusal,
        );
      }
      // a mail client's AMP runtime always sends its Origin with v1 (a cross-origin request): none is not one
      if (!knownOrigin) {
        throw new ApiError(
          "ORIGIN_NOT_ALLOWED",
          origin === undefined
            ? "a v1 AMP request (__amp_source_origin) needs a mail provider's Origin"
            : "this Origin is not a mail provider's (AMP_ALLOWED_ORIGINS)",
          refusal,
        );
      }
      if (!isSenderAllowed(sourceOrigin, allowedSenders)) {
        throw new ApiError("SENDER_NOT_ALLOWED", notAllowed(sourceOrigin), refusal);
      }
      await next();
      c.res.headers.set("AMP-Access-Control-Allow-Source-Origin", sourceOrigin);
      c.res.headers.set("Access-Control-Expose-Headers", "AMP-Access-Control-Allow-Source-Origin");
    }
    for (const [k, v] of Object.entries(corsHeaders)) c.res.headers.set(k, v);
  });
