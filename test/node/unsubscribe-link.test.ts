/**
 * The one-click unsubscribe link's token (core/unsubscribe-link.ts): a token of core/token.ts's format signed with
 * hex(HMAC-SHA256(TOKEN_SECRET, "opentime:unsubscribe-link:v1")), which a backend in another language can derive
 * as the README shows; at least 30 days of life; an empty secret derives no key.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyToken } from "../../core/token";
import {
  mintUnsubscribeToken,
  UNSUBSCRIBE_MIN_TTL_DAYS,
  unsubscribeLink,
  unsubscribeSecret,
  unsubscribeSecrets,
} from "../../core/unsubscribe-link";

const SECRET = "unsubscribe-test-secret-0123456789";

describe("unsubscribe link tokens", () => {
  it("are signed with the README's derived key, never the secret itself; an empty secret derives none", async () => {
    const key = createHmac("sha256", SECRET).update("opentime:unsubscribe-link:v1").digest("hex");
    expect(await unsubscribeSecret(SECRET)).toBe(key);
    expect(await unsubscribeSecret("")).toBe("");
    const t = await mintUnsubscribeToken(SECRET, {
      user: "c1",
      campaign: "spring",
      ttlSeconds: 3600,
      now: 1_700_000_000,
    });
    const now = 1_700_000_100;
    expect((await verifyToken([key], t, now)).ok).toBe(true);
    expect((await verifyToken(await unsubscribeSecrets(["other-secret-0123456789abcdef", SECRET]), t, now)).ok).toBe(
      true,
    );
    expect(await verifyToken([SECRET], t, now)).toEqual({ ok: false, reason: "bad-signature" });
  });

  it("live the email's token's life, and at least 30 days", async () => {
    const now = 1_700_000_000;
    const claims = async (ttlSeconds: number) => {
      const t = await mintUnsubscribeToken(SECRET, { user: "c1", campaign: "spring", ttlSeconds, now });
      const v = await verifyToken(await unsubscribeSecrets([SECRET]), t, now);
      return v.ok ? v.claims : null;
    };
    expect((await claims(7 * 86_400))?.e).toBe(now + UNSUBSCRIBE_MIN_TTL_DAYS * 86_400);
    expect((await claims(40 * 86_400))?.e).toBe(now + 40 * 86_400);
    expect(UNSUBSCRIBE_MIN_TTL_DAYS).toBe(30);
  });

  it("the link is the Worker's /v1/unsubscribe with the token", () => {
    expect(unsubscribeLink("https://opentime.shop.example/", "abc.def")).toBe(
      "https://opentime.shop.example/v1/unsubscribe?t=abc.def",
    );
  });
});
