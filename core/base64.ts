/** Base64 / base64url helpers over Uint8Array that run unchanged in Workers and Node (atob/btoa only). */

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    bin += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(bin);
}

/** Throws on input that is not base64; callers that must not throw wrap it. */
export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Throws on input that is not the canonical unpadded base64url of some bytes: `atob` ignores the spare low bits of
 * a last character (2 of them after 2 bytes, 4 after 1), so 4 or 16 spellings would decode to the same bytes, and
 * a text used as a key (a token's signature keys the pixel's rate limiter) must have one spelling only.
 */
export function base64UrlToBytes(s: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error("not base64url");
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = base64ToBytes(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  if (bytesToBase64Url(bytes) !== s) throw new Error("not canonical base64url");
  return bytes;
}

/** Float32 vector <-> base64 of its little-endian bytes (how profiles store user factors). */
export function float32ToBase64(v: Float32Array): string {
  const le = new Uint8Array(v.length * 4);
  const dv = new DataView(le.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i] as number, true);
  return bytesToBase64(le);
}

export function base64ToFloat32(b64: string): Float32Array {
  const bytes = base64ToBytes(b64);
  if (bytes.length % 4 !== 0) throw new Error("float32 payload length is not a multiple of 4");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}
