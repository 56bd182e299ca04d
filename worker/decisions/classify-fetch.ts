/**
 * Who fetched an image: Gmail's image proxy (fetches when the reader opens), Apple Mail Privacy
 * Protection (prefetches every image at delivery through Apple's network, with a bare `Mozilla/5.0`
 * user agent; not an open), another mail proxy, or the reader's own client. Uses Cloudflare's
 * `request.cf` (ASN, AS organisation) and the user agent; the location of a proxied fetch is the proxy's.
 */

export const FETCH_KINDS = ["gmail-proxy", "apple-mpp", "other-proxy", "direct"] as const;
export type FetchKind = (typeof FETCH_KINDS)[number];

/** Apple's autonomous systems (AS714 Apple Inc., AS6185 Apple Inc.). */
const APPLE_ASNS = new Set([714, 6185]);
const GMAIL_PROXY = /GoogleImageProxy|via ggpht\.com/i;
const OTHER_PROXIES =
  /YahooMailProxy|YandexImageResizer|OutlookMobileImageProxy|Microsoft-Outlook-ImageProxy|ProtonMail|Mail\.Ru|Superhuman|Comcast/i;
/** What MPP's fetcher sends: the bare product token, nothing a real browser or mail app would send alone. */
const BARE_UA = /^Mozilla\/5\.0$/;

export interface FetchSignals {
  userAgent: string | null;
  asn?: number | null;
  asOrganization?: string | null;
}

export function signalsOf(req: Request): FetchSignals {
  const cf = (req as Request & { cf?: IncomingRequestCfProperties }).cf;
  return {
    userAgent: req.headers.get("User-Agent"),
    asn: typeof cf?.asn === "number" ? cf.asn : null,
    asOrganization: typeof cf?.asOrganization === "string" ? cf.asOrganization : null,
  };
}

export function classifyFetch(s: FetchSignals): FetchKind {
  const ua = (s.userAgent ?? "").trim();
  if (GMAIL_PROXY.test(ua)) return "gmail-proxy";
  const apple =
    (s.asn !== null && s.asn !== undefined && APPLE_ASNS.has(s.asn)) || /\bApple\b/i.test(s.asOrganization ?? "");
  if (apple && (ua === "" || BARE_UA.test(ua))) return "apple-mpp";
  if (OTHER_PROXIES.test(ua)) return "other-proxy";
  return "direct";
}

/** A prefetch shows content but is not an open: it neither records an open nor freezes a decision. */
export function isPrefetch(kind: FetchKind): boolean {
  return kind === "apple-mpp";
}
