/**
 * POST /v1/amp/preferences?t=<token> — the amp-form in the email (Gmail sends
 * application/x-www-form-urlencoded): personalization on/off, tracking on/off, topics, frequency, pause,
 * unsubscribe. Email CORS enforced; the answer is JSON for the submit-success / submit-error templates,
 * and a repeat submit is harmless (it sets, never toggles).
 */
import type { Hono } from "hono";
import { verifyToken } from "../../core/token";
import { emailCors } from "../amp/email-cors";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { queueConsentChange } from "../profile/consent-update";

const FREQUENCIES = ["daily", "weekly", "monthly"] as const;

export function registerAmpPreferences(app: Hono<AppEnv>): void {
  app.post("/v1/amp/preferences", emailCors(), async (c) => {
    const token = await verifyToken(getConfig(c.env).tokenSecrets, c.req.query("t"));
    if (!token.ok)
      throw new ApiError("TOKEN_INVALID", "this link has expired: use the preferences link in a newer email");
    const form = await c.req.parseBody({ all: true });
    const on = (name: string) => {
      const v = form[name];
      return v === "on" || v === "true" || v === "1";
    };
    const topics = ([] as unknown[])
      .concat(form.topics ?? [])
      .filter((t): t is string => typeof t === "string")
      .slice(0, 50);
    const frequency = FREQUENCIES.find((f) => f === form.frequency) ?? null;
    const pauseDays = Math.max(0, Math.min(365, Number(form.pause_days ?? 0) || 0));
    const consent = {
      personalization: on("personalization"),
      tracking: on("tracking"),
      topics,
      frequency,
      pausedUntil: pauseDays > 0 ? Math.floor(Date.now() / 1000) + pauseDays * 86400 : null,
      unsubscribed: on("unsubscribe"),
    };
    await queueConsentChange(c.env.EVENTS, token.claims.u, consent);
    return c.json({
      ok: true,
      message: consent.unsubscribed ? "You are unsubscribed." : "Your preferences are saved.",
      personalization: consent.personalization,
      tracking: consent.tracking,
    });
  });
}
