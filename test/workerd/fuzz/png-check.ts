/**
 * Whether bytes are a PNG a mail client can decode, and its size: signature, chunk lengths and CRCs,
 * one IHDR, IDATs that inflate (the platform's zlib, DecompressionStream) to exactly the rows the IHDR
 * announces with valid filter bytes, IEND. fast-png's JS decoder checks the same in ~27 ms per image in
 * workerd; this takes a fraction, and identical images (generic cards) are checked once.
 */
import { decode } from "fast-png";

export type PngCheck = { ok: true; width: number; height: number } | { ok: false; error: string };

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function check(bytes: Uint8Array): Promise<PngCheck> {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return { ok: false, error: "no PNG signature" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let header: { width: number; height: number; depth: number; color: number; interlace: number } | null = null;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (at + 12 <= bytes.length && !ended) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + length > bytes.length) return { ok: false, error: `${type} chunk runs past the end` };
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length))
      return { ok: false, error: `${type} chunk CRC` };
    if (type === "IHDR") {
      if (header || length !== 13) return { ok: false, error: "bad or repeated IHDR" };
      header = {
        width: view.getUint32(at + 8),
        height: view.getUint32(at + 12),
        depth: data[8] as number,
        color: data[9] as number,
        interlace: data[12] as number,
      };
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") ended = true;
    at += 12 + length;
  }
  if (!header || !ended || idat.length === 0) return { ok: false, error: "missing IHDR, IDAT or IEND" };
  const channels = CHANNELS[header.color];
  if (!channels || header.width === 0 || header.height === 0) return { ok: false, error: "bad IHDR" };
  if (header.interlace !== 0 || header.depth !== 8 || header.color === 3) {
    // not what the Worker writes: let the full decoder judge
    const png = decode(bytes);
    return { ok: true, width: png.width, height: png.height };
  }
  const joined = new Uint8Array(idat.reduce((n, d) => n + d.length, 0));
  let offset = 0;
  for (const d of idat) {
    joined.set(d, offset);
    offset += d.length;
  }
  let raw: Uint8Array;
  try {
    raw = await inflate(joined);
  } catch (e) {
    return { ok: false, error: `IDAT does not inflate: ${String(e)}` };
  }
  const row = 1 + header.width * channels;
  if (raw.length !== row * header.height)
    return { ok: false, error: `IDAT inflates to ${raw.length} bytes, the IHDR needs ${row * header.height}` };
  for (let y = 0; y < header.height; y++)
    if ((raw[y * row] as number) > 4) return { ok: false, error: `row ${y} has filter ${raw[y * row]}` };
  return { ok: true, width: header.width, height: header.height };
}

const memo = new Map<string, PngCheck>();

export async function checkPng(bytes: Uint8Array): Promise<PngCheck> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
  const key = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  const known = memo.get(key);
  if (known) return known;
  let result: PngCheck;
  try {
    result = await check(bytes);
    // the first images are decoded by fast-png as well: the two checks must agree
    if (result.ok && memo.size < 20) {
      const png = decode(bytes);
      if (png.width !== result.width || png.height !== result.height)
        result = { ok: false, error: `fast-png reads ${png.width}x${png.height}` };
    }
  } catch (e) {
    result = { ok: false, error: String(e) };
  }
  if (memo.size > 5000) memo.clear();
  memo.set(key, result);
  return result;
}
