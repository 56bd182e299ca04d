/**
 * Signed, expiring, scoped URL tokens (HMAC-SHA256 over WebCrypto; Workers and Node 20 alike).
 *
 * Wire format: `<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, first part))>`.
 * Claims: `u` user id, `c` campaign id, `e` expiry (unix seconds), `v` format version, `n` the send's nonce (tokens
 * minted before it have none, and verify as they did).
 * Verification never throws: it returns a result, so a bad token degrades to generic content.
 */
import { base64UrlToBytes, bytesToBase64Url } from "./base64";
import { CAMPAIGN_ID_PATTERN } from "./campaign";
import { hasControlCharacter, looksLikeEmail, looksLikeEmailAsSent } from "./events";

export const TOKEN_FORMAT_VERSION = 1;
/**
 * How long the tokens `npm run email` and `npm run token` mint live by default (`--ttl-days`), days: shorter than
 * an erased reader's tombstone (ERASURE_TOMBSTONE_DAYS), as every email token must be.
 */
export const DEFAULT_TOKEN_TTL_DAYS = 30;
/** Longest token accepted; anything longer is rejected before any crypto work. */
export const MAX_TOKEN_LENGTH = 1024;

export interface TokenClaims {
  /** pseudonymous user id */
  u: string;
  /** campaign id */
  c: string;
  /** expiry, unix seconds */
  e: number;
  v: typeof TOKEN_FORMAT_VERSION;
  /**
   * The send's nonce (NONCE_PATTERN): random, so that two emails of one campaign to one reader minted in the same
   * second (two triggers fired by one catalog change) are two sends, with their own opens, impressions and
   * decisions (sendKey). Absent in tokens minted before it (and in those a shop's backend mints without one): such a
   * token's send is its campaign and expiry, as it always was. Any other value is ignored, as unknown claims are.
   */
  n?: string;
  /**
   * 1: a staff preview's email (worker/preview/): its opens, pixels, clicks and preference form are answered as
   * any email's, and record or change nothing (no open, impression, exposure or click on the reader's profile or in
   * an experiment: worker/events/may-record.ts; no consent change: the preferences route). Absent in every token
   * an email carries; any other value is ignored, as unknown claims are.
   */
  p?: 1;
}

export type TokenFailure = "missing" | "malformed" | "bad-signature" | "expired";
export type TokenResult = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenFailure };

const encoder = new TextEncoder();
const keyCache = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keyCache.set(secret, key);
  }
  return key;
}

export interface MintOptions {
  user: string;
  campaign: string;
  /** lifetime in seconds from `now` */
  ttlSeconds: number;
  /** unix seconds; defaults to the current time */
  now?: number;
  /** a staff preview's token (claim `p`: its opens and clicks record nothing) */
  preview?: boolean;
  /** the send's nonce (claim `n`, NONCE_PATTERN); a fresh one (newNonce) by default: set it only to reproduce a token */
  nonce?: string;
  /**
   * the user id is one opentime already stores (a trigger delivery's row): it may be shaped like an address
   * through a look-alike `@` or `.` alone, as an earlier version took it (validClaims `held`)
   */
  held?: boolean;
}

/** A send's nonce: 8 base64url characters, 48 random bits (tokens of one reader, campaign and second never meet). */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{8}$/;

/** A fresh nonce for a send (claim `n`). */
export function newNonce(): string {
  return bytesToBase64Url(crypto.getRandomValues(new Uint8Array(6)));
}

export async function mintToken(secret: string, opts: MintOptions): Promise<string> {
  if (!secret) throw new Error("token secret is empty");
  const nonce = opts.nonce ?? newNonce();
  if (!NONCE_PATTERN.test(nonce)) throw new Error("token nonce: 8 base64url characters");
  if (!validClaims(opts.user, opts.campaign, opts.held)) {
    throw new Error(
      "token claims: the user id must be 1..128 characters without control characters or lone surrogates, not '.' or '..' and not an email address, the campaign id letters, digits, '_', '.', '-' (at most 64)",
    );
  }
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const claims: TokenClaims = {
    u: opts.user,
    c: opts.campaign,
    e: now + opts.ttlSeconds,
    v: TOKEN_FORMAT_VERSION,
    n: nonce,
    ...(opts.preview && { p: 1 as const }),
  };
  const body = bytesToBase64Url(encoder.encode(JSON.stringify(claims)));
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(body));
  return `${body}.${bytesToBase64Url(new Uint8Array(sig))}`;
}

/** A campaign claim: it becomes part of KV keys (`decision:<user>:<campaign>:<slot>`), so never a ':'. */
const CAMPAIGN_CLAIM = CAMPAIGN_ID_PATTERN;
const MAX_USER_CLAIM = 128;

/**
 * Whether claims are well-formed: a user id as the events API takes one (core/events.ts UserIdSchema): 1..128
 * characters without control characters or lone surrogates, not shaped like an email address (a backend that mints
 * its own tokens must not make opentime store addresses), not `.` or `..` (a URL cannot name them: no right of
 * access or erasure); and a campaign id. `held`: the id may be one an earlier version took and stored, shaped like
 * an address only through a look-alike `@` or `.` or an encoded one (core/events.ts HeldUserIdSchema): so are
 * verified the tokens already sent (an unsubscribe link lives two years, and must still work), and minted those
 * of a delivery stored before; a new token for any other id is minted strict.
 */
export function validClaims(user: string, campaign: string, held = false): boolean {
  return (
    user.length > 0 &&
    user.length <= MAX_USER_CLAIM &&
    !hasControlCharacter(user) &&
    user.isWellFormed() &&
    user !== "." &&
    user !== ".." &&
    !(held ? looksLikeEmailAsSent(user) : looksLikeEmail(user)) &&
    CAMPAIGN_CLAIM.test(campaign)
  );
}

function parseClaims(bytes: Uint8Array): TokenClaims | null {
  try {
    const c = JSON.parse(new TextDecoder().decode(bytes)) as Partial<TokenClaims>;
    if (
      typeof c.u === "string" &&
      typeof c.c === "string" &&
      validClaims(c.u, c.c, true) &&
      typeof c.e === "number" &&
      Number.isFinite(c.e) &&
      c.v === TOKEN_FORMAT_VERSION
    ) {
      return {
        u: c.u,
        c: c.c,
        e: c.e,
        v: c.v,
        ...(typeof c.n === "string" && NONCE_PATTERN.test(c.n) && { n: c.n }),
        ...(c.p === 1 && { p: 1 as const }),
      };
    }
  } catch {
    // fall through
  }
  return null;
}

/**
 * Verifies against every secret given (the first signs new tokens; the rest allow rotation).
 * The signature is checked before the claims are trusted; expiry after. Each part must be canonical base64url
 * (core/base64.ts): a token has one spelling, since its signature's text keys the pixel's rate limiter.
 */
export async function verifyToken(
  secrets: readonly string[],
  token: string | undefined | null,
  now: number = Math.floor(Date.now() / 1000),
): Promise<TokenResult> {
  if (!token) return { ok: false, reason: "missing" };
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: "malformed" };
  const parts = token.split(".");
  if (parts.length !== 2) return { ok: false, reason: "malformed" };
  const [body, sigPart] = parts as [string, string];
  let sig: Uint8Array<ArrayBuffer>;
  let claimBytes: Uint8Array<ArrayBuffer>;
  try {
    sig = base64UrlToBytes(sigPart);
    claimBytes = base64UrlToBytes(body);
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (sig.length !== 32) return { ok: false, reason: "malformed" };
  let valid = false;
  for (const secret of secrets) {
    if (!secret) continue;
    if (await crypto.subtle.verify("HMAC", await hmacKey(secret), sig, encoder.encode(body))) {
      valid = true;
      break;
    }
  }
  if (!valid) return { ok: false, reason: "bad-signature" };
  const claims = parseClaims(claimBytes);
  if (!claims) return { ok: false, reason: "malformed" };
  if (claims.e <= now) return { ok: false, reason: "expired" };
  return { ok: true, claims };
}

/**
 * Which send of its campaign a token is: its expiry, and its nonce when it has one (`<e>.<n>`; a token minted
 * before nonces, `<e>` alone, as it always was). Never a ':' (it is part of KV keys: core/kv-keys.ts `decision`).
 */
export function sendOf(claims: Pick<TokenClaims, "e" | "n">): string {
  return claims.n === undefined ? String(claims.e) : `${claims.e}.${claims.n}`;
}

/**
 * One send of a campaign, as impressions and opens are keyed (core/item-rules.ts): the token's campaign and
 * sendOf (a trigger's emails share a campaign; their tokens' nonces, and expiries, tell them apart).
 */
export function sendKey(claims: Pick<TokenClaims, "c" | "e" | "n">): string {
  return `${claims.c}:${sendOf(claims)}`;
}
