/**
 * GET /v1/unsubscribe?t=<unsubscribe token>: the page behind an email's Unsubscribe link (core/unsubscribe-link.ts).
 * It never unsubscribes: link scanners and mail security filters fetch every link of an email, so a GET only
 * shows a small page, without script, whose button POSTs the one-click form (worker/routes/unsubscribe-one-click.ts).
 * A token that does not verify: 401 TOKEN_INVALID (to a browser, the page saying so: cut short, or expired). Never a
 * 5xx.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { noFraming } from "../lib/no-framing";
import { pageResponse, refusedToken, verifyUnsubscribeToken } from "../suppressions/unsubscribe-link";

export function registerUnsubscribePage(app: Hono<AppEnv>): void {
  app.get("/v1/unsubscribe", noFraming, async (c) => {
    const t = c.req.query("t");
    const token = await verifyUnsubscribeToken(c.env, t);
    if (!token.ok) return refusedToken(c, token);
    return pageResponse(c, "confirm", t);
  });
}
