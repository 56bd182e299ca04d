/**
 * The token format's language-neutral cases (test/cases/token.json), run by every implementation of it here: Node's
 * WebCrypto (test/node/token-cases.test.ts) and workerd's (test/workerd/token-cases.test.ts). A shop's backend that
 * mints tokens in another language can run the same file.
 */
import { describe, expect, it } from "vitest";
import { mintToken, type TokenResult, verifyToken } from "../../core/token";
import cases from "../cases/token.json";

type MintCase = [
  string,
  string,
  { user: string; campaign: string; ttlSeconds: number; now: number; nonce: string; preview?: boolean },
  string,
];
type VerifyCase = [string, string[], string, number, TokenResult];

export function describeTokenCases(where: string): void {
  describe(`token cases (${where})`, () => {
    it.each(cases.mint as MintCase[])("mints %s to the byte", async (_name, secret, opts, token) => {
      expect(await mintToken(secret, opts)).toBe(token);
    });
    it.each(cases.verify as VerifyCase[])("verifies: %s", async (_name, secrets, token, now, result) => {
      expect(await verifyToken(secrets, token, now)).toEqual(result);
    });
    it("holds the cases it should", () => {
      expect(cases.mint.length).toBeGreaterThanOrEqual(7);
      expect(cases.verify.length).toBeGreaterThanOrEqual(20);
    });
  });
}
