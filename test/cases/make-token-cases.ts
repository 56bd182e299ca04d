/**
 * Writes test/cases/token.json, the token format's language-neutral cases (README, Tokens): run once with
 * `npx tsx test/cases/make-token-cases.ts` when the format changes (never to make a failing test pass), then
 * `npx biome check --write test/cases/token.json`. Tokens whose claims are serialized other than mintToken does
 * are signed here by hand, as another backend might sign them.
 */
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { mintToken, verifyToken } from "../../core/token";

const SECRET = "opentime-token-cases-secret-2026";
const PREVIOUS = "opentime-token-cases-previous-secret";
const NOW = 1_800_000_000;
const MONTH = 30 * 86400;

const b64url = (b: Buffer) => b.toString("base64url");
/** a token over exactly these claim bytes */
const signed = (secret: string, json: string) => {
  const body = b64url(Buffer.from(json, "utf8"));
  return `${body}.${b64url(createHmac("sha256", secret).update(body).digest())}`;
};

type Mint = { user: string; campaign: string; ttlSeconds: number; now: number; nonce: string; preview?: boolean };
/** the nonces are random when minted for a send (core/token.ts newNonce); fixed here to reproduce the tokens */
const mints: [string, string, Mint][] = [
  [
    "a demo customer, thirty days",
    SECRET,
    { user: "c0000042", campaign: "demo", ttlSeconds: MONTH, now: NOW, nonce: "q3Zr8X_a" },
  ],
  [
    "the same reader, campaign and second, another send: another nonce",
    SECRET,
    { user: "c0000042", campaign: "demo", ttlSeconds: MONTH, now: NOW, nonce: "0-Lm4vTz" },
  ],
  [
    "a hashed id and a dotted campaign",
    SECRET,
    { user: "9f86d081884c7d65", campaign: "spring-2027.v2_b", ttlSeconds: 3600, now: NOW, nonce: "AAAAAAAA" },
  ],
  [
    "non-ASCII kept as UTF-8, not escaped",
    SECRET,
    { user: "kunde-ü-東京", campaign: "demo", ttlSeconds: 60, now: NOW, nonce: "________" },
  ],
  [
    "quote and backslash escaped as JSON does",
    SECRET,
    { user: 'a"b\\c', campaign: "demo", ttlSeconds: 60, now: NOW, nonce: "zzzzzzzz" },
  ],
  [
    "the longest user id (128 characters)",
    SECRET,
    { user: "u".repeat(128), campaign: "c", ttlSeconds: 1, now: NOW, nonce: "Nonce-01" },
  ],
  [
    "a staff preview's token (n, then p: 1)",
    SECRET,
    { user: "c0000042", campaign: "demo", ttlSeconds: 600, now: NOW, nonce: "pReview_", preview: true },
  ],
];
/** a token minted before nonces (no `n`), as emails already sent carry for two years: it verifies as it did */
const BEFORE_NONCES =
  "eyJ1IjoiYzAwMDAwNDIiLCJjIjoiZGVtbyIsImUiOjE4MDI1OTIwMDAsInYiOjF9.shFiLmOBXEPPMslXnUJVtg0I6-6K89KMpLdulmSy-T0";

const mintRows = await Promise.all(
  mints.map(async ([name, secret, m]) => [name, secret, m, await mintToken(secret, m)] as const),
);
const first = mintRows[0]?.[3] as string;
const [body, sig] = first.split(".") as [string, string];
/** the same bytes spelled otherwise: the signature's last character with its 2 spare bits set (`atob` ignores them) */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const respelled = `${sig.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(sig.at(-1) as string) ^ 1]}`;

const verifies: [string, string[], string, number][] = [
  ["valid", [SECRET], first, NOW + 1],
  ["minted before nonces (no n): valid, its send its campaign and expiry alone", [SECRET], BEFORE_NONCES, NOW + 1],
  [
    "a nonce that is not 8 base64url characters is ignored",
    [SECRET],
    signed(SECRET, `{"u":"c7","c":"demo","e":${NOW + 60},"v":1,"n":"a:b#c"}`),
    NOW,
  ],
  [
    "a nonce that is not a string is ignored",
    [SECRET],
    signed(SECRET, `{"u":"c7","c":"demo","e":${NOW + 60},"v":1,"n":12345678}`),
    NOW,
  ],
  ["expired at its expiry second", [SECRET], first, NOW + MONTH],
  [
    "claims in another order, with spaces",
    [SECRET],
    signed(SECRET, `{ "v": 1, "e": ${NOW + 60}, "c": "demo", "u": "c7" }`),
    NOW,
  ],
  ["an extra claim is ignored", [SECRET], signed(SECRET, `{"u":"c7","c":"demo","e":${NOW + 60},"v":1,"x":"y"}`), NOW],
  [
    "signed with the previous secret, during rotation",
    [SECRET, PREVIOUS],
    signed(PREVIOUS, `{"u":"c7","c":"demo","e":${NOW + 60},"v":1}`),
    NOW,
  ],
  [
    "signed with the previous secret, after rotation",
    [SECRET],
    signed(PREVIOUS, `{"u":"c7","c":"demo","e":${NOW + 60},"v":1}`),
    NOW,
  ],
  [
    "claims changed, signature kept",
    [SECRET],
    `${b64url(Buffer.from(`{"u":"c0000043","c":"demo","e":${NOW + MONTH},"v":1}`))}.${sig}`,
    NOW,
  ],
  ["signature of another body", [SECRET], `${body}.${signed(SECRET, "{}").split(".")[1]}`, NOW],
  ["standard base64 padding", [SECRET], `${first}=`, NOW],
  ["the signature's last character with its spare bits set", [SECRET], `${body}.${respelled}`, NOW],
  ["format version 2", [SECRET], signed(SECRET, `{"u":"c7","c":"demo","e":${NOW + 60},"v":2}`), NOW],
  ["expiry as a string", [SECRET], signed(SECRET, `{"u":"c7","c":"demo","e":"${NOW + 60}","v":1}`), NOW],
  ["a ':' in the campaign", [SECRET], signed(SECRET, `{"u":"c7","c":"de:mo","e":${NOW + 60},"v":1}`), NOW],
  ["an empty user id", [SECRET], signed(SECRET, `{"u":"","c":"demo","e":${NOW + 60},"v":1}`), NOW],
  [
    "an email address as the user id",
    [SECRET],
    signed(SECRET, `{"u":"jane.doe@example.com","c":"demo","e":${NOW + 60},"v":1}`),
    NOW,
  ],
  [
    "a staff preview (p: 1): its opens and clicks record nothing",
    [SECRET],
    signed(SECRET, `{"u":"c7","c":"demo","e":${NOW + 60},"v":1,"p":1}`),
    NOW,
  ],
  ["p other than 1 is ignored", [SECRET], signed(SECRET, `{"u":"c7","c":"demo","e":${NOW + 60},"v":1,"p":true}`), NOW],
  ["claims that are not JSON", [SECRET], signed(SECRET, "u=c7&c=demo"), NOW],
  ["no token", [SECRET], "", NOW],
  ["no secret configured", [], first, NOW],
];
const verifyRows = await Promise.all(
  verifies.map(
    async ([name, secrets, token, now]) => [name, secrets, token, now, await verifyToken(secrets, token, now)] as const,
  ),
);

const doc = {
  about:
    'opentime URL tokens (README, Tokens). mint: [name, secret, {user, campaign, ttlSeconds, now, nonce, preview?}, token]: a backend that serializes claims as {"u","c","e","v","n"} in that order (n: the send\'s nonce, 8 base64url characters, random for each token; a token without one verifies, its send then its campaign and expiry alone) (and "p":1 last for a staff preview, whose opens and clicks record nothing; emails never carry one), without spaces, in UTF-8, gets these tokens to the byte. verify: [name, secrets (the first signs; the rest are accepted during rotation), token, now (unix s), result]: what the Worker decides; any JSON serialization of the claims verifies.',
  mint: mintRows,
  verify: verifyRows,
};
writeFileSync(new URL("./token.json", import.meta.url), `${JSON.stringify(doc, null, 2)}\n`);
console.log(`token.json: ${mintRows.length} mint and ${verifyRows.length} verify cases`);
