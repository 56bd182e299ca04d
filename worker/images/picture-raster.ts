/**
 * A product picture as pixels of exactly its box on the card, over the card's picture panel colour.
 * A PNG already of the box's size (what a `{width}`/`{height}` catalog URL yields) is decoded with
 * native inflate (`png-decode.ts`; unusual PNGs by fast-png), several times faster than resvg's
 * decode-and-draw in wasm; anything else (JPEG, GIF, SVG, other sizes) is drawn by resvg, scaled to
 * cover the box and centred (a JPEG of the box's size without resampling: a 440 px photo in ~10 ms).
 */
import { convertIndexedToRgb, type DecodedPng, decode } from "fast-png";
import { bytesToBase64 } from "../../core/base64";
import type { Picture } from "./picture-cache";
import { decodePng, pngSize } from "./png-decode";
import type { Raster } from "./raster";
import { renderRaster } from "./resvg-runtime";

/** resvg asks for pictures by URL; this one is never fetched, its bytes are handed over. */
const PICTURE_HREF = "https://picture.opentime.invalid/p";

export interface Box {
  width: number;
  height: number;
}

/** Width and height from a JPEG's start-of-frame segment, or null. */
export function jpegSize(bytes: Uint8Array): Box | null {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 2; at + 9 < bytes.byteLength; ) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1] as number;
    // SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    at += 2 + view.getUint16(at + 2);
  }
  return null;
}

/** 8-bit samples with 1-4 channels (grey, grey+alpha, RGB, RGBA), or null for what we leave to resvg. */
function samples(png: DecodedPng): { data: Uint8Array; channels: number } | null {
  if (png.palette) {
    const data = convertIndexedToRgb(png);
    return { data, channels: data.byteLength / (png.width * png.height) };
  }
  if (png.depth === 8) return { data: png.data as Uint8Array, channels: png.channels };
  if (png.depth === 16) {
    const wide = png.data as Uint16Array;
    const data = new Uint8Array(wide.length);
    for (let i = 0; i < wide.length; i++) data[i] = (wide[i] as number) >> 8;
    return { data, channels: png.channels };
  }
  return null; // 1, 2 or 4-bit grey
}

/**
 * Decodes a PNG of exactly the box's size, made opaque over `panel` ([r, g, b]); null if resvg should
 * draw it. 8-bit RGB, the usual picture, is used as decoded (no copy).
 */
function decodeExact(bytes: Uint8Array, box: Box, panel: readonly number[]): Raster | null {
  const size = pngSize(bytes);
  if (!size || size.width !== box.width || size.height !== box.height) return null;
  const s = decodePng(bytes) ?? samples(decode(bytes));
  if (!s || s.data.byteLength !== box.width * box.height * s.channels) return null;
  if (s.channels === 3) return { width: box.width, height: box.height, channels: 3, data: s.data };
  const n = box.width * box.height;
  const out = new Uint8Array(n * 3);
  const [pr = 255, pg = 255, pb = 255] = panel;
  const { data, channels } = s;
  for (let i = 0, j = 0, o = 0; i < n; i++, j += channels, o += 3) {
    const grey = channels < 3;
    const r = data[j] as number;
    const g = grey ? r : (data[j + 1] as number);
    const b = grey ? r : (data[j + 2] as number);
    const a = channels === 2 || channels === 4 ? (data[j + channels - 1] as number) : 255;
    if (a === 255) {
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    } else {
      const k = 255 - a;
      out[o] = ((r * a + pr * k + 127) / 255) | 0;
      out[o + 1] = ((g * a + pg * k + 127) / 255) | 0;
      out[o + 2] = ((b * a + pb * k + 127) / 255) | 0;
    }
  }
  return { width: box.width, height: box.height, channels: 3, data: out };
}

/** The picture as an opaque raster of the box's size; throws when it cannot be decoded at all. */
export async function pictureRaster(picture: Picture, box: Box, panel: string): Promise<Raster> {
  const rgb = [1, 3, 5].map((i) => Number.parseInt(panel.slice(i, i + 2), 16));
  if (!picture.svg) {
    const exact = decodeExact(picture.bytes, box, rgb);
    if (exact) return exact;
  }
  const href = picture.svg ? `data:image/svg+xml;base64,${bytesToBase64(picture.bytes)}` : PICTURE_HREF;
  const { width, height } = box;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<rect width="${width}" height="${height}" fill="${panel}"/>
<image href="${href}" width="${width}" height="${height}" preserveAspectRatio="xMidYMid slice"/>
</svg>`;
  const images = picture.svg ? undefined : new Map([[PICTURE_HREF, picture.bytes]]);
  const size = picture.svg ? null : (pngSize(picture.bytes) ?? jpegSize(picture.bytes));
  const pixelExact = size?.width === width && size.height === height;
  const raster = await renderRaster({ svg, width, images, pixelExact });
  // resvg skips bytes it cannot decode: the bare panel means there was no picture
  if (onlyPanel(raster, rgb)) throw new Error("picture could not be decoded");
  return raster;
}

function onlyPanel(r: Raster, [pr, pg, pb]: readonly number[]): boolean {
  const d = r.data;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] !== pr || d[i + 1] !== pg || d[i + 2] !== pb) return false;
  }
  return true;
}
