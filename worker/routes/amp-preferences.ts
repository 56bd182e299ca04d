/**
 * POST /v1/amp/preferences?t=<token> — the amp-form in the email (Gmail sends
 * application/x-www-form-urlencoded): personalization on/off, tracking on/off, topics, frequency, pause,
 * unsubscribe. Email CORS enforced; the answer is JSON for the submit-success / submit-error templates
 * (`Cache-Control: private, no-store`, as the reader's own), and a repeat submit is harmless (it sets, never toggles). A staff preview's token (claim p) changes nothing.
 * The change goes through the reader's shard as the one-click unsubscribe's does (the events queue, else the shard
 * itself); should neither take it, 429 PREFERENCES_NOT_SAVED, whose message the form's submit-error shows.
 *
 * A form sets what it holds, nothing else. The shipped form (`form=2`, amp-templates/recs-email.amp.html) sets
 * only what the reader chose: each of personalization and tracking is a yes/no pair with nothing chosen at first
 * (`on`, `off`, or absent: unchanged), and unsubscribe a box (ticked: unsubscribed; else unchanged). The email is
 * the same for every reader and cannot show their settings, so a box ticked by default would have turned back on
 * what a reader had turned off elsewhere. A form without `form=2` that reads as checkboxes (isCheckboxForm: the
 * emails sent before it, an empty one among them: every box unticked; a shop's own checkbox form) keeps that
 * meaning for personalization and tracking: an unticked box is not sent, so off. No form resubscribes (an unticked
 * unsubscribe box changes nothing: the email cannot know the reader unsubscribed elsewhere). Any other (a
 * frequency picker alone, a yes/no answer) is read as the shipped one: a field it
 * does not hold changes nothing (`on`, `true`, `1` / `off`, `false`, `0`). Each sets topics, frequency and pause
 * only when it has those fields, so a form without them never clears a reader's topics, frequency or pause set
 * elsewhere (nor does a value it cannot mean: an empty frequency clears it, `pause_days` 0 ends a pause). A form
 * offering topics carries an empty hidden `topics` field, so that unticking every topic clears them (an empty
 * value is not a topic).
 *
 * An erased reader's form (the edge tombstone stands) saves an unsubscribe alone, which the shard keeps whenever made,
 * and says so: anyone holding the email could submit it, so it never ends an erasure (the consent API does).
 *
 * A token for an id an earlier version stored shaped like an address only through a look-alike (core/token.ts
 * validClaims `held`) saves the form's opt-outs alone (core/opt-out.ts): the rest is left as it is and the answer
 * says so; a form holding nothing else is refused, 400 USER_ID_NOT_PSEUDONYMOUS, whose message the form shows.
 */
import type { Hono } from "hono";
import { looksLikeEmail } from "../../core/events";
import { optOutOf } from "../../core/opt-out";
import { verifyToken } from "../../core/token";
import { emailCors } from "../amp/email-cors";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { hasTombstone } from "../events/erasure";
import { background } from "../lib/background";
import { readForm } from "../lib/read-form";
import { type ConsentChange, recordConsentChange } from "../profile/consent-update";

const FREQUENCIES = ["daily", "weekly", "monthly"] as const;
/** What an erased reader's form is told of what it would have turned on. */
const NOT_AFTER_ERASURE =
  "Your data was deleted at your request, so from this email only unsubscribing can be saved: the shop can set the rest again when you sign in.";
/** The form is a few fields: anything larger is not it. */
const MAX_FORM_BYTES = 16 * 1024;

/** The checkboxes of the form in emails sent before `form=2` (a ticked box sends `on`; an unticked one, nothing). */
const LEGACY_FIELDS = ["personalization", "tracking", "unsubscribe"] as const;

/**
 * Whether a form without `form=2` reads as checkboxes (an unticked personalization or tracking box: off): one that
 * sends nothing at all (the emails sent before it with every box unticked: the reader turned both off), or holds one
 * of the three boxes with every one it holds `on` (the unsubscribe box alone: both others unticked; with other
 * fields or not: a shop's own checkbox form keeps that meaning). A form holding none of them (a frequency picker
 * alone) or a yes/no answer (`off`, `true`, `0`) does not: it changes only what it holds.
 */
function isCheckboxForm(form: FormData): boolean {
  if ([...form.keys()].length === 0) return true;
  const held = LEGACY_FIELDS.filter((k) => form.has(k));
  return held.length > 0 && held.every((k) => form.getAll(k).every((v) => v === "on"));
}

/** The choices of the shipped form, or any but the legacy one: each yes/no only when answered, unsubscribe when ticked. */
function chosen(form: FormData): ConsentChange {
  const yesNo = (name: string): boolean | undefined => {
    const v = form.get(name);
    return v === "on" || v === "true" || v === "1"
      ? true
      : v === "off" || v === "false" || v === "0"
        ? false
        : undefined;
  };
  const personalization = yesNo("personalization");
  const tracking = yesNo("tracking");
  return {
    ...(personalization !== undefined && { personalization }),
    ...(tracking !== undefined && { tracking }),
    ...(["on", "true", "1"].includes(String(form.get("unsubscribe"))) && { unsubscribed: true }),
  };
}

export function registerAmpPreferences(app: Hono<AppEnv>): void {
  app.post("/v1/amp/preferences", emailCors(), async (c) => {
    // every answer (an error too) is about this reader's own settings: kept by no cache, as amp-recs answers
    c.header("Cache-Control", "private, no-store");
    const token = await verifyToken(getConfig(c.env).tokenSecrets, c.req.query("t"));
    // shown by the form's submit-error: expired, or cut short, changed or signed by another deployment's secret
    if (!token.ok)
      throw new ApiError(
        "TOKEN_INVALID",
        token.reason === "expired"
          ? "this link has expired: use the preferences link in a newer email"
          : "this link does not verify (cut short or changed): use the preferences link in a newer email",
      );
    const form = await readForm(c, MAX_FORM_BYTES);
    const on = (name: string) => {
      const v = form.get(name);
      return v === "on" || v === "true" || v === "1";
    };
    const legacy = form.get("form") !== "2" && isCheckboxForm(form);
    // an unticked unsubscribe box is no resubscribe, in any form: only the consent API takes one
    const asked: ConsentChange = legacy
      ? {
          personalization: on("personalization"),
          tracking: on("tracking"),
          ...(on("unsubscribe") && { unsubscribed: true }),
        }
      : chosen(form);
    if (form.has("topics"))
      // each once (a form may offer a topic in two places), then the profile's 50
      asked.topics = [
        ...new Set(
          form.getAll("topics").filter((t): t is string => typeof t === "string" && t.length > 0 && t.length <= 64),
        ),
      ].slice(0, 50);
    // a value the form cannot mean (`hourly`, `Weekly`, `soon`) changes nothing: it must not clear what is set
    const frequency = form.get("frequency");
    if (frequency === "") asked.frequency = null;
    else {
      const known = FREQUENCIES.find((f) => f === frequency);
      if (known) asked.frequency = known;
    }
    // a number of days; empty is none (Number("") is 0, which would end a pause the reader chose no change to), and
    // so is a negative one; a part of a day is a pause of a day (rounded down, 0.5 would end the pause it asks for)
    const pause = form.get("pause_days");
    const days = typeof pause === "string" && pause.trim() !== "" ? Number(pause) : Number.NaN;
    if (Number.isFinite(days) && days >= 0) {
      const pauseDays = Math.min(365, Math.ceil(days));
      asked.pausedUntil = pauseDays > 0 ? Math.floor(Date.now() / 1000) + pauseDays * 86400 : null;
    }
    if (Object.keys(asked).length === 0)
      return c.json({ ok: true, message: "Nothing to change: choose yes or no first." });
    // an id that reads as an address: its opt-outs are saved, nothing new stored under it
    const held = looksLikeEmail(token.claims.u);
    const { out, rest } = held ? optOutOf(asked, Math.floor(Date.now() / 1000)) : { out: asked, rest: [] };
    const consent = held ? out : asked;
    if (Object.keys(consent).length === 0)
      throw new ApiError(
        "USER_ID_NOT_PSEUDONYMOUS",
        "only unsubscribing, pausing emails or turning personalization or tracking off can be saved from this link",
      );
    // a staff preview's email (core/token.ts, claim p) changes nothing of the reader it shows
    if (token.claims.p) return c.json({ ok: true, message: "A preview: nothing was changed for this reader." });
    // an erased reader is not brought back by an email, which anyone holding it can submit (the reader's shard
    // takes no form's opt-in as a return: state/tombstone-table.ts turnsOn), and while the tombstone stands the shard
    // keeps an unsubscribe of theirs and nothing else: only that is sent, and the answer says so. The edge
    // tombstone unreadable (or one of before core/erasure-key.ts), the shard alone drops the rest, unsaid
    const erased = await hasTombstone(c.env.OPENTIME_KV, token.claims.u).catch(() => false);
    const others = erased && Object.keys(consent).some((k) => k !== "unsubscribed");
    if (erased) {
      if (!consent.unsubscribed) return c.json({ ok: true, message: NOT_AFTER_ERASURE });
      for (const k of Object.keys(consent) as (keyof ConsentChange)[]) if (k !== "unsubscribed") delete consent[k];
    }
    // the queue, else the reader's shard itself, each for a few seconds at most (never a 5xx to an email: the form
    // shows the error's message and the reader can submit again, which sets the same choice, never toggles it)
    if (!(await recordConsentChange(c.env, token.claims, "preferences", consent, background(c).waitUntil)))
      throw new ApiError(
        "PREFERENCES_NOT_SAVED",
        "your preferences could not be saved just now: please submit them again in a minute",
        { "Retry-After": "60" },
      );
    return c.json({
      ok: true,
      message: `${consent.unsubscribed ? "You are unsubscribed." : "Your preferences are saved."}${
        rest.length > 0 ? " Only opting out can be saved from this link: the rest is unchanged." : ""
      }${others ? ` ${NOT_AFTER_ERASURE}` : ""}`,
      personalization: consent.personalization,
      tracking: consent.tracking,
    });
  });
}
