/**
 * What both routes of the one-click unsubscribe link (core/unsubscribe-link.ts) share: the token's check and the
 * pages a reader sees (small, no script, nothing loaded from elsewhere, never framed, never cached, the link's
 * token sent nowhere as a referrer). The unsubscribe is recorded as the email's form records its changes
 * (worker/profile/consent-update.ts `recordConsentChange`). A GET only ever shows a page (link
 * scanners fetch every link); the unsubscribe is a POST, from a mail provider (RFC 8058) or the page's button.
 * A refusal is the API's error (`{"error":{"code","message"}}`, worker/errors.ts) for a client that takes no
 * HTML (a mail provider's POST), and a page with the same status for a browser.
 */
import type { Context } from "hono";
import { escapeXml } from "../../core/escape-xml";
import { type TokenResult, verifyToken } from "../../core/token";
import { ONE_CLICK_FIELD, ONE_CLICK_VALUE, UNSUBSCRIBE_PATH, unsubscribeSecrets } from "../../core/unsubscribe-link";
import { type AppEnv, type Bindings, getConfig } from "../env";
import { ApiError, ERROR_STATUS } from "../errors";

/** The link's token, checked with the unsubscribe keys of every TOKEN_SECRET in force (never an email's token). */
export async function verifyUnsubscribeToken(env: Bindings, token: string | undefined): Promise<TokenResult> {
  return verifyToken(await unsubscribeSecrets(getConfig(env).tokenSecrets), token);
}

/** Whether a form is RFC 8058's one-click POST (what the page's button sends too). */
export function isOneClick(form: FormData): boolean {
  return form.get(ONE_CLICK_FIELD) === ONE_CLICK_VALUE;
}

/** What a page says. */
export type UnsubscribePage = "confirm" | "done" | "invalid" | "expired" | "not-one-click" | "retry";

const PAGES: Record<UnsubscribePage, { title: string; text: string; button: boolean }> = {
  confirm: { title: "Unsubscribe?", text: "Press the button to stop these emails.", button: true },
  done: {
    title: "You are unsubscribed",
    text: "You will not get these emails any more. The sender's lists may take a little while to catch up.",
    button: false,
  },
  // a link cut short or changed, or one whose signing key was retired since (TOKEN_SECRET rotated twice, or its
  // previous one dropped, within the link's two years): the reader can still opt out, by a newer email or a reply
  invalid: {
    title: "This link does not work",
    text: "It may have been cut short or changed, or it is from an older email. To stop these emails, use the unsubscribe link in a newer email, or reply to one and ask to be removed.",
    button: false,
  },
  expired: {
    title: "This link has expired",
    text: "It is from an email more than two years old. To stop these emails, use the unsubscribe link in a newer email, or reply to one and ask to be removed.",
    button: false,
  },
  "not-one-click": {
    title: "Unsubscribe?",
    text: "Nothing was changed yet: press the button to stop these emails.",
    button: true,
  },
  retry: {
    title: "Not saved yet",
    text: "Your unsubscribe could not be recorded just now. Please press the button again in a minute.",
    button: true,
  },
};

/** The page's HTML; `token`: the link's, for the button's POST (pages with a button only). */
export function pageHtml(kind: UnsubscribePage, token: string | undefined): string {
  const page = PAGES[kind];
  const form =
    page.button && token
      ? `<form method="post" action="${escapeXml(`${UNSUBSCRIBE_PATH}?t=${token}`)}"><input type="hidden" name="${ONE_CLICK_FIELD}" value="${ONE_CLICK_VALUE}"><button type="submit">Unsubscribe</button></form>`
      : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeXml(page.title)}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:4px;background:#1f2933;color:#fff;cursor:pointer}</style>
</head><body><h1>${escapeXml(page.title)}</h1><p>${escapeXml(page.text)}</p>${form}</body></html>`;
}

const PAGE_HEADERS = {
  "Cache-Control": "private, no-store",
  // nothing but its own inline style; its one form posts back here (noFraming adds frame-ancestors 'none')
  "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'",
  // the URL holds the reader's token
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "X-Robots-Tag": "noindex",
};

/** A page as the answer (200), with the headers every page gets. */
export function pageResponse(c: Context<AppEnv>, kind: UnsubscribePage, token?: string): Response {
  return c.html(pageHtml(kind, token), 200, PAGE_HEADERS);
}

/**
 * A refusal: to a browser (it accepts text/html), the page with the error's status; to anything else (a mail
 * provider's one-click POST, a script), the API's error.
 */
export function refusal(c: Context<AppEnv>, error: ApiError, kind: UnsubscribePage, token?: string): Response {
  // about one reader's link, whatever the answer: kept by no cache
  c.header("Cache-Control", "private, no-store");
  if (!/\btext\/html\b/i.test(c.req.header("Accept") ?? "")) throw error;
  return c.html(pageHtml(kind, token), ERROR_STATUS[error.code], { ...PAGE_HEADERS, ...error.headers });
}

/** The refusal of a token that does not verify. */
export function refusedToken(c: Context<AppEnv>, result: Extract<TokenResult, { ok: false }>): Response {
  const expired = result.reason === "expired";
  return refusal(
    c,
    new ApiError(
      "TOKEN_INVALID",
      expired
        ? "this unsubscribe link has expired: use the link in a newer email"
        : "this unsubscribe link does not verify (cut short, changed, an email's own token, or signed with a TOKEN_SECRET no longer in force)",
    ),
    expired ? "expired" : "invalid",
  );
}
