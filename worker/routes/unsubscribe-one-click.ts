/**
 * POST /v1/unsubscribe?t=<unsubscribe token> with the form `List-Unsubscribe=One-Click`: RFC 8058's one-click
 * unsubscribe, POSTed by a mail provider when the reader presses its Unsubscribe button, or by the link's page.
 * Sets the reader's `unsubscribed` through their shard, the one writer the email's form and the consent API go
 * through too (worker/profile/consent-update.ts: the events queue, else the shard itself), and answers 200
 * with a page, no redirect; a repeat sets it again (harmless: it sets, never toggles; the shard keeps no consent
 * change's id, and its consent clock makes a repeat change nothing, so POSTs over and over grow nothing). A reader
 * their shard holds no profile of (erased, their tombstone standing or ended, or never known) is answered the same,
 * and the shard keeps their unsubscribe as a suppression alone (worker/state/suppression-only.ts). A POST without the one-click
 * field changes nothing (400 BAD_REQUEST); a token that does not verify, 401 TOKEN_INVALID; should neither the
 * queue nor the shard take the change, 429 UNSUBSCRIBE_NOT_SAVED with Retry-After (back-pressure: press again).
 * Never a 5xx. A refusal is the API's JSON error, and to a browser the page (with its button when pressing again
 * can help) with the same status.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { background } from "../lib/background";
import { noFraming } from "../lib/no-framing";
import { readForm } from "../lib/read-form";
import { recordConsentChange } from "../profile/consent-update";
import {
  isOneClick,
  pageResponse,
  refusal,
  refusedToken,
  verifyUnsubscribeToken,
} from "../suppressions/unsubscribe-link";

/** The one-click body is 26 bytes; a form of a few fields at most. */
const MAX_ONE_CLICK_BYTES = 4096;

export function registerUnsubscribeOneClick(app: Hono<AppEnv>): void {
  app.post("/v1/unsubscribe", noFraming, async (c) => {
    const t = c.req.query("t");
    const token = await verifyUnsubscribeToken(c.env, t);
    if (!token.ok) return refusedToken(c, token);
    let oneClick = false;
    try {
      oneClick = isOneClick(await readForm(c, MAX_ONE_CLICK_BYTES));
    } catch {
      // not a form, or too large: not a one-click POST either
    }
    if (!oneClick)
      return refusal(
        c,
        new ApiError(
          "BAD_REQUEST",
          "not a one-click unsubscribe: the body must be the form List-Unsubscribe=One-Click",
        ),
        "not-one-click",
        t,
      );
    if (
      !(await recordConsentChange(c.env, token.claims, "unsubscribe", { unsubscribed: true }, background(c).waitUntil))
    )
      return refusal(
        c,
        new ApiError("UNSUBSCRIBE_NOT_SAVED", "the unsubscribe could not be recorded just now: POST it again", {
          "Retry-After": "60",
        }),
        "retry",
        t,
      );
    return pageResponse(c, "done");
  });
}
