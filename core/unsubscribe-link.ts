/**
 * opentime's own one-click unsubscribe link (RFC 8058), which `npm run email` puts in `List-Unsubscribe` and in each
 * part's footer for a recipient without the shop's own `unsubscribe_url`: `<base>/v1/unsubscribe?t=<token>`. The
 * token is a token of core/token.ts (the reader, the campaign, an expiry: one send), signed with a key set apart
 * for this one purpose (unsubscribeSecret): an email's token does not unsubscribe by this link, and an unsubscribe
 * token, which may outlive the email's, opens nothing else (no recommendations, images, clicks or preferences).
 * Shared by the builder and the Worker.
 */
import { mintToken } from "./token";

export const UNSUBSCRIBE_PATH = "/v1/unsubscribe";
/** RFC 8058: what a mail provider POSTs to the link (form-encoded or multipart) to unsubscribe in one click. */
export const ONE_CLICK_FIELD = "List-Unsubscribe";
export const ONE_CLICK_VALUE = "One-Click";
/**
 * The shortest life of a link (days): CAN-SPAM asks that an opt-out work for at least 30 days after the send. A link
 * lives as long as the email's token when that is longer. Keep ERASURE_TOMBSTONE_DAYS (45) above both.
 */
export const UNSUBSCRIBE_MIN_TTL_DAYS = 30;

const PURPOSE = "opentime:unsubscribe-link:v1";
const encoder = new TextEncoder();
const derived = new Map<string, Promise<string>>();

/**
 * The key that signs unsubscribe tokens where `secret` (a TOKEN_SECRET) signs an email's: HMAC-SHA256(secret,
 * purpose), hex. Empty for an empty secret, which signs and accepts nothing (core/token.ts).
 */
export function unsubscribeSecret(secret: string): Promise<string> {
  if (!secret) return Promise.resolve("");
  let key = derived.get(secret);
  if (!key) {
    key = (async () => {
      const hmac = await crypto.subtle.importKey(
        "raw",
        encoder.encode(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, encoder.encode(PURPOSE)));
      return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
    })();
    derived.set(secret, key);
  }
  return key;
}

/** The keys that verify unsubscribe tokens: one per TOKEN_SECRET in force (rotation). */
export function unsubscribeSecrets(secrets: readonly string[]): Promise<string[]> {
  return Promise.all(secrets.map(unsubscribeSecret));
}

/** An unsubscribe token for one send: the reader, the campaign, and a life of at least UNSUBSCRIBE_MIN_TTL_DAYS. */
export async function mintUnsubscribeToken(
  secret: string,
  opts: { user: string; campaign: string; ttlSeconds: number; now?: number },
): Promise<string> {
  const ttlSeconds = Math.max(opts.ttlSeconds, UNSUBSCRIBE_MIN_TTL_DAYS * 86_400);
  return mintToken(await unsubscribeSecret(secret), { ...opts, ttlSeconds });
}

/** The link for a token, on the Worker at `baseUrl`. */
export function unsubscribeLink(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${UNSUBSCRIBE_PATH}?t=${token}`;
}
