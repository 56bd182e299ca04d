/**
 * The staff HTML pages (the dashboard, the preview page) are never shown inside another site's frame: the
 * dashboard's model buttons submit from its own origin, so a framing page could lead a staff member's click onto
 * them (clickjacking). `frame-ancestors 'none'` goes into the answer's Content-Security-Policy (replacing any
 * frame-ancestors it held, keeping its other directives), and `X-Frame-Options: DENY` serves older browsers.
 * Not for the email-facing routes: mail clients show images and AMP inside their own pages.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";

const FRAME_ANCESTORS = "frame-ancestors 'none'";

/** `policy` with frame-ancestors 'none' as its only frame-ancestors directive. */
export function withoutFraming(policy: string | null): string {
  const kept = (policy ?? "")
    .split(";")
    .map((d) => d.trim())
    .filter((d) => d !== "" && !/^frame-ancestors(\s|$)/i.test(d));
  return [...kept, FRAME_ANCESTORS].join("; ");
}

export const noFraming = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  c.res.headers.set("Content-Security-Policy", withoutFraming(c.res.headers.get("Content-Security-Policy")));
  c.res.headers.set("X-Frame-Options", "DENY");
});
