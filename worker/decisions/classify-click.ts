/**
 * Who sent a click on an open-time image's link, as far as the request alone tells: a link scanner or previewer
 * by its user agent (`agent`: strong enough alone), or only `suspect` (from a network link scanners run in, or
 * with no user agent: not enough alone, people browse from those networks too; the reader's shard counts it
 * towards a burst: core/click-bursts.ts). Uses the user agent and Cloudflare's `request.cf` (ASN, AS organisation),
 * as image fetches are classified (classify-fetch.ts). Conservative: a reader's click wrongly dropped costs more
 * than a scanner's kept, so no pattern here matches what a browser or a mail app's own browser sends.
 */
import { type FetchSignals, signalsOf } from "./classify-fetch";

/**
 * Outlook's check of a link (HEAD or GET) on the reader's own machine, just before it hands the link to their browser:
 * neither the reader's click nor a scanner's. Recorded as a scanner's click, it made the reader's next click within a
 * second (another product) a burst with a suspect click, and both of their clicks were dropped.
 */
const OFFICE_LINK_CHECK = /microsoft office (?:existence|protocol) discovery/i;

/**
 * User agents that are never a person's browser: security gateways that name themselves (Barracuda, Proofpoint,
 * Mimecast, Cisco IronPort: "Bot clicks from security scanners: a field guide",
 * check.live-direct-marketing.online), link previewers of chat and social apps (a forwarded email's link pasted
 * into a chat), crawlers that name themselves, Office's link checks before it opens the browser, headless
 * browsers and HTTP libraries (scanners that do not dress as a browser). Named tokens only: a bare "bot" would
 * also match phones (`CUBOT X30`, an Android maker's model).
 */
const SCANNER_AGENTS = new RegExp(
  [
    // email security gateways
    "barracuda",
    "proofpoint",
    "mimecast",
    "ironport",
    // link previewers and crawlers that name themselves
    "bingpreview",
    "bingbot",
    "googlebot",
    "slackbot",
    "twitterbot",
    "facebookexternalhit",
    "linkedinbot",
    "whatsapp",
    "telegrambot",
    "discordbot",
    "skypeuripreview",
    "applebot",
    // Office checks a link (HEAD or GET) before it hands it to the browser, which then sends the reader's click
    OFFICE_LINK_CHECK.source,
    // headless browsers and HTTP libraries
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "okhttp",
    "apache-httpclient",
    "java/",
    "libwww-perl",
    "wget/",
    "curl/",
    "node-fetch",
    "axios/",
    "undici",
  ].join("|"),
  "i",
);

/**
 * Networks link scanners run in, by ASN: Microsoft (AS8075, where Defender Safe Links' checks come from; listed as
 * Microsoft Corporation's Azure range by ipdebrief.com), Google (AS15169, Google LLC: viewip.org's ASN list), Amazon
 * (AS16509 and AS14618, Amazon.com: anuragbhatia.com's routing notes, viewip.org). Suspect only: Cloud PCs, virtual
 * desktops and cloud proxies put people there too.
 */
const SCANNER_ASNS = new Set([8075, 15169, 16509, 14618]);
/** Security vendors' own networks, by the AS organisation `request.cf` names (their ASNs are not published alike). */
const SCANNER_ORGANISATIONS = /\b(?:Proofpoint|Mimecast|Barracuda|IronPort)\b/i;

export interface ClickSignals {
  /** the user agent names a scanner, previewer, crawler, headless browser or HTTP library */
  agent: boolean;
  /** from a scanner's network, or with no user agent (no browser sends none) */
  suspect: boolean;
}

export function classifyClick(s: FetchSignals): ClickSignals {
  const ua = (s.userAgent ?? "").trim();
  const network =
    (s.asn !== null && s.asn !== undefined && SCANNER_ASNS.has(s.asn)) ||
    SCANNER_ORGANISATIONS.test(s.asOrganization ?? "");
  return { agent: SCANNER_AGENTS.test(ua), suspect: network || ua === "" };
}

/** Whether the request is Outlook's check of a link before the reader's click (recorded as nothing). */
export function isOfficeLinkCheck(req: Request): boolean {
  return OFFICE_LINK_CHECK.test(req.headers.get("User-Agent") ?? "");
}

export function clickSignalsOf(req: Request): ClickSignals {
  return classifyClick(signalsOf(req));
}
