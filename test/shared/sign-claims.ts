/**
 * A token signed by hand over any claims, past mintToken's checks: as an earlier version minted it, a shop's backend
 * mints its own, or a leaked secret could. HMAC-SHA256 over the base64url JSON, as core/token.ts verifies it; runs
 * under Node's WebCrypto and workerd's.
 */
import { bytesToBase64Url } from "../../core/base64";

export async function signClaims(secret: string, claims: Record<string, unknown>): Promise<string> {
  const enc = new TextEncoder();
  const body = bytesToBase64Url(enc.encode(JSON.stringify(claims)));
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return `${body}.${bytesToBase64Url(new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(body))))}`;
}
