/**
 * The one-click unsubscribe link's token (core/unsubscribe-link.ts): a token of core/token.ts's format signed with
 * hex(HMAC-SHA256(TOKEN_SECRET, "opentime:unsubscribe-link:v1")), which a backend in another language can derive
 * as the README shows; two years of life whatever the email's token lives; an empty secret derives no key.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyToken } from "../../core/token";
import {
  mintUnsubscribeToken,
  UNSUBSCRIBE_LINK_DAYS,
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

  it("live two years (730 days), whatever the email's token lives; longer only with an email's that is", async () => {
    const now = 1_700_000_000;
    const claims = async (ttlSeconds: number) => {
      const t = await mintUnsubscribeToken(SECRET, { user: "c1", campaign: "spring", ttlSeconds, now });
      const v = await verifyToken(await unsubscribeSecrets([SECRET]), t, now);
      return v.ok ? v.claims : null;
    };
    for (const days of [0, 7, 30, 44, 400])
      expect((await claims(days * 86_400))?.e, `${days}`).toBe(now + UNSUBSCRIBE_LINK_DAYS * 86_400);
    expect((await claims(1000 * 86_400))?.e).toBe(now + 1000 * 86_400);
    expect(UNSUBSCRIBE_LINK_DAYS).toBe(730);
    // verified two years less a day after the send, not a day after the two years
    const t = await mintUnsubscribeToken(SECRET, { user: "c1", campaign: "spring", ttlSeconds: 30 * 86_400, now });
    const keys = await unsubscribeSecrets([SECRET]);
    expect((await verifyToken(keys, t, now + 729 * 86_400)).ok).toBe(true);
    expect(await verifyToken(keys, t, now + 731 * 86_400)).toEqual({ ok: false, reason: "expired" });
  });

  it("the link is the Worker's /v1/unsubscribe with the token", () => {
    expect(unsubscribeLink("https://opentime.shop.example/", "abc.def")).toBe(
      "https://opentime.shop.example/v1/unsubscribe?t=abc.def",
    );
  });
});
