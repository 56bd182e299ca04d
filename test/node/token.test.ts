/** URL tokens: round trip, expiry, forgery, tampering, malformed input, secret rotation. */
import { describe, expect, it } from "vitest";
import { bytesToBase64Url } from "../../core/base64";
import { MAX_TOKEN_LENGTH, mintToken, NONCE_PATTERN, sendKey, verifyToken } from "../../core/token";
import { signClaims } from "../shared/sign-claims";

const SECRET = "a-test-secret-of-sufficient-length";
const NOW = 1_800_000_000;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** the other spellings `atob` decodes to the same bytes: the last character with its spare low bits set otherwise */
function respellings(part: string): string[] {
  const spare = [0, 0, 4, 2][part.length % 4] as number; // 1 byte left over: 4 spare bits; 2 bytes: 2
  const last = ALPHABET.indexOf(part.at(-1) as string);
  const out: string[] = [];
  for (let bits = 1; bits < 1 << spare; bits++) out.push(part.slice(0, -1) + ALPHABET[last ^ bits]);
  return out;
}

describe("tokens", () => {
  it("verifies what it minted, with the claims intact", async () => {
    const t = await mintToken(SECRET, { user: "u-42", campaign: "spring", ttlSeconds: 3600, now: NOW });
    const res = await verifyToken([SECRET], t, NOW + 10);
    expect(res).toEqual({ ok: true, claims: { u: "u-42", c: "spring", e: NOW + 3600, v: 1, n: expect.any(String) } });
  });

  it("mints each send its own token: the same reader, campaign and second make another token, another send", async () => {
    const opts = { user: "u-42", campaign: "spring", ttlSeconds: 3600, now: NOW };
    const tokens = await Promise.all(Array.from({ length: 50 }, () => mintToken(SECRET, opts)));
    expect(new Set(tokens).size).toBe(50);
    const sends = await Promise.all(
      tokens.map(async (t) => {
        const res = await verifyToken([SECRET], t, NOW);
        if (!res.ok) throw new Error(res.reason);
        expect(res.claims.n).toMatch(NONCE_PATTERN);
        return sendKey(res.claims);
      }),
    );
    expect(new Set(sends).size).toBe(50);
    for (const send of sends) expect(send).toMatch(new RegExp(`^spring:${NOW + 3600}\\.[A-Za-z0-9_-]{8}$`));
    // a nonce is 8 base64url characters: anything else is refused at minting, never put in a KV key
    await expect(mintToken(SECRET, { ...opts, nonce: "a:b#cdef" })).rejects.toThrow(/nonce/);
  });

  it("keeps a token minted before nonces its send: its campaign and expiry, the same key as before", async () => {
    const old = await signClaims(SECRET, { u: "u-42", c: "spring", e: NOW + 3600, v: 1 });
    const res = await verifyToken([SECRET], old, NOW);
    expect(res).toEqual({ ok: true, claims: { u: "u-42", c: "spring", e: NOW + 3600, v: 1 } });
    if (res.ok) expect(sendKey(res.claims)).toBe(`spring:${NOW + 3600}`);
  });

  it("refuses an expired token", async () => {
    const t = await mintToken(SECRET, { user: "u", campaign: "c", ttlSeconds: 60, now: NOW });
    expect(await verifyToken([SECRET], t, NOW + 60)).toEqual({ ok: false, reason: "expired" });
  });

  it("refuses a token signed with another secret", async () => {
    const t = await mintToken("another-secret-that-is-long-enough", {
      user: "u",
      campaign: "c",
      ttlSeconds: 60,
      now: NOW,
    });
    expect(await verifyToken([SECRET], t, NOW)).toEqual({ ok: false, reason: "bad-signature" });
  });

  it("refuses tampered claims (user swapped, signature kept)", async () => {
    const t = await mintToken(SECRET, { user: "alice", campaign: "c", ttlSeconds: 60, now: NOW });
    const sig = t.split(".")[1];
    const forged = `${bytesToBase64Url(new TextEncoder().encode(JSON.stringify({ u: "bob", c: "c", e: NOW + 60, v: 1 })))}.${sig}`;
    expect(await verifyToken([SECRET], forged, NOW)).toEqual({ ok: false, reason: "bad-signature" });
  });

  it.each([
    ["empty", "", "missing"],
    ["no dot", "abc", "malformed"],
    ["three parts", "a.b.c", "malformed"],
    ["not base64url", "a+b.c/d", "malformed"],
    ["short signature", "eyJ1IjoieCJ9.AAAA", "malformed"],
    ["too long", "a".repeat(MAX_TOKEN_LENGTH + 1), "malformed"],
  ])("refuses a malformed token (%s)", async (_name, token, reason) => {
    expect(await verifyToken([SECRET], token, NOW)).toEqual({ ok: false, reason });
  });

  it("has one spelling: a part whose last character's spare bits are set is malformed, not another valid token", async () => {
    const t = await mintToken(SECRET, { user: "u-42", campaign: "spring", ttlSeconds: 3600, now: NOW });
    const [body, sig] = t.split(".") as [string, string];
    // 32 bytes are 43 characters: the last one carries 4 bits of the signature and 2 that decoding ignores
    for (const other of respellings(sig)) {
      expect(await verifyToken([SECRET], `${body}.${other}`, NOW)).toEqual({ ok: false, reason: "malformed" });
    }
    // the claims' part too (58 bytes: 78 characters, the last with 4 spare bits)
    const claims = `{"u":"u-42","c":"spring","e":${NOW + 3600},"v":1,"pad":"xxx"}`;
    const padded = bytesToBase64Url(new TextEncoder().encode(claims));
    expect(padded.length % 4).toBe(2);
    for (const other of respellings(padded)) {
      expect(await verifyToken([SECRET], `${other}.${sig}`, NOW)).toEqual({ ok: false, reason: "malformed" });
    }
    expect((await verifyToken([SECRET], t, NOW)).ok).toBe(true);
  });

  it("refuses a user id the events API refuses: '.', '..' (no URL names them), a lone surrogate", async () => {
    for (const user of [".", "..", "\ud800x"]) {
      await expect(mintToken(SECRET, { user, campaign: "c", ttlSeconds: 60, now: NOW }), user).rejects.toThrow(
        /token claims/,
      );
      // signed by a backend's own minting, it is malformed
      const token = await signClaims(SECRET, { u: user, c: "c", e: NOW + 60, v: 1 });
      expect(await verifyToken([SECRET], token, NOW), user).toEqual({
        ok: false,
        reason: "malformed",
      });
    }
    // ids that only look like them are taken
    for (const user of ["...", "a..", ".a"]) {
      const t = await mintToken(SECRET, { user, campaign: "c", ttlSeconds: 60, now: NOW });
      expect((await verifyToken([SECRET], t, NOW)).ok, user).toBe(true);
    }
  });

  it("verifies a token an earlier version signed for an id shaped like an address only through a look-alike; mints one only for a stored id", async () => {
    const signed = (u: string) => signClaims(SECRET, { u, c: "c", e: NOW + 60, v: 1 });
    for (const user of ["jane\uFF20example.com", "jane%40example.com", "jane@example\u3002com"]) {
      // an unsubscribe link already sent lives two years: it must still verify
      expect(await verifyToken([SECRET], await signed(user), NOW), user).toEqual({
        ok: true,
        claims: { u: user, c: "c", e: NOW + 60, v: 1 },
      });
      // a new token for such an id is refused, unless the id is one already stored (a trigger delivery's row)
      await expect(mintToken(SECRET, { user, campaign: "c", ttlSeconds: 60, now: NOW }), user).rejects.toThrow(
        /token claims/,
      );
      const held = await mintToken(SECRET, { user, campaign: "c", ttlSeconds: 60, now: NOW, held: true });
      expect((await verifyToken([SECRET], held, NOW)).ok, user).toBe(true);
    }
    // an address as it is was never taken: malformed, held or not
    expect(await verifyToken([SECRET], await signed("jane@example.com"), NOW)).toEqual({
      ok: false,
      reason: "malformed",
    });
    await expect(
      mintToken(SECRET, { user: "jane@example.com", campaign: "c", ttlSeconds: 60, now: NOW, held: true }),
    ).rejects.toThrow(/token claims/);
  });

  it("accepts tokens of the previous secret during rotation, and only while it is listed", async () => {
    const t = await mintToken("old-secret-still-in-rotation", { user: "u", campaign: "c", ttlSeconds: 60, now: NOW });
    expect((await verifyToken([SECRET, "old-secret-still-in-rotation"], t, NOW)).ok).toBe(true);
    expect((await verifyToken([SECRET], t, NOW)).ok).toBe(false);
  });

  it("refuses everything when no secret is configured", async () => {
    const t = await mintToken(SECRET, { user: "u", campaign: "c", ttlSeconds: 60, now: NOW });
    expect(await verifyToken([], t, NOW)).toEqual({ ok: false, reason: "bad-signature" });
  });
});
