/**
 * opentime's own one-click unsubscribe link (RFC 8058), which `npm run email` puts in `List-Unsubscribe` and in each
 * part's footer for a recipient without the shop's own `unsubscribe_url`: `<base>/v1/unsubscribe?t=<token>`. The
 * token is a token of core/token.ts (the reader, the campaign, an expiry: one send), signed with a key set apart
 * for this one purpose (unsubscribeSecret): an email's token does not unsubscribe by this link, and an unsubscribe
 * token, which outlives the email's by far (UNSUBSCRIBE_LINK_DAYS), opens nothing else (no recommendations, images,
 * clicks or preferences). Shared by the builder and the Worker.
 */
import { mintToken } from "./token";

export const UNSUBSCRIBE_PATH = "/v1/unsubscribe";
/** RFC 8058: what a mail provider POSTs to the link (form-encoded or multipart) to unsubscribe in one click. */
export const ONE_CLICK_FIELD = "List-Unsubscribe";
export const ONE_CLICK_VALUE = "One-Click";
/**
 * How long a link works after the send (days), whatever the email's own token lives (`--ttl-days`; longer only when
 * that is): two years. Readers unsubscribe from emails months old, and a link that answers "expired" becomes a spam
 * complaint, which mailbox providers judge senders on (CAN-SPAM's 30 days is a floor). Bounded all the same: a
 * signed link that never expired could never be retired but by rotating TOKEN_SECRET. It needs no erasure tombstone
 * to outlive: it can only unsubscribe, and an unsubscribe of a reader the shards hold nothing of (erased, or never
 * known) is kept as a suppression and nothing else (worker/state/suppression-only.ts).
 */
export const UNSUBSCRIBE_LINK_DAYS = 730;

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

/** An unsubscribe token for one send: the reader, the campaign, and a life of UNSUBSCRIBE_LINK_DAYS (or the email's, if longer). */
export async function mintUnsubscribeToken(
  secret: string,
  opts: { user: string; campaign: string; ttlSeconds: number; now?: number },
): Promise<string> {
  const ttlSeconds = Math.max(opts.ttlSeconds, UNSUBSCRIBE_LINK_DAYS * 86_400);
  return mintToken(await unsubscribeSecret(secret), { ...opts, ttlSeconds });
}

/** The link for a token, on the Worker at `baseUrl`. */
export function unsubscribeLink(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${UNSUBSCRIBE_PATH}?t=${token}`;
}
