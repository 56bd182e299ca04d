/**
 * Signatures of trigger webhooks, as a shop's receiver checks them (the same code runs in Node 20 and Workers):
 * header `Opentime-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the scheme Stripe uses.
 * A receiver verifies the HMAC over the raw body, refuses a timestamp outside its tolerance (replays), and
 * keeps the delivery ids it handled (a retry after a lost answer carries the same id).
 */
const encoder = new TextEncoder();

export const SIGNATURE_HEADER = "Opentime-Signature";
export const DELIVERY_HEADER = "Opentime-Delivery";
export const DEFAULT_TOLERANCE_S = 300;

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  return Array.from(sig, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function signWebhook(secret: string, body: string, nowS: number): Promise<string> {
  return `t=${nowS},v1=${await hmacHex(secret, `${nowS}.${body}`)}`;
}

/** Whether `header` signs `body` with `secret` within `toleranceS` of `nowS` (constant-time comparison). */
export async function verifyWebhook(
  secret: string,
  body: string,
  header: string | null,
  nowS: number,
  toleranceS = DEFAULT_TOLERANCE_S,
): Promise<boolean> {
  const parts = Object.fromEntries((header ?? "").split(",").map((p) => p.trim().split("=", 2) as [string, string]));
  const t = Number(parts.t);
  const given = parts.v1 ?? "";
  if (!Number.isInteger(t) || Math.abs(nowS - t) > toleranceS || !/^[0-9a-f]{64}$/.test(given)) return false;
  const expected = await hmacHex(secret, `${t}.${body}`);
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0;
}
