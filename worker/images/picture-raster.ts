/**
 * A product picture as pixels of exactly its box on the card, opaque over the card's picture panel.
 * PNGs are decoded with native inflate (`png-decode.ts`; unusual ones by fast-png), JPEGs by mozjpeg in
 * wasm (`jpeg-decode.ts`); a picture of another size than the box is then scaled to cover it
 * (`resample.ts`). SVG, GIF and whatever those decoders refuse are drawn by resvg, scaled to cover the box.
 * A picture of the box's size (what a `{width}`/`{height}` catalog URL yields) needs no scaling at all.
 */
import { convertIndexedToRgb, type DecodedPng, decode } from "fast-png";
import { bytesToBase64 } from "../../core/base64";
import { errorMessage, logEvent } from "../lib/log";
import { decodeJpeg, jpegSize } from "./jpeg-decode";
import type { Picture } from "./picture-cache";
import { decodePng, pngSize } from "./png-decode";
import type { Raster } from "./raster";
import { coverResize, type Pixels } from "./resample";
import { renderRaster } from "./resvg-runtime";

/**
 * Decoded, a picture takes 4 bytes a pixel: 3 MB of JPEG can hold 24 megapixels (96 MB), most of an
 * isolate's 128 MB. Larger pictures get the placeholder; product photos are rarely above 4 megapixels.
 */
export const MAX_PICTURE_PIXELS = 8_000_000;

/** resvg asks for pictures by URL; this one is never fetched, its bytes are handed over. */
const PICTURE_HREF = "https://picture.opentime.invalid/p";

export interface Box {
  width: number;
  height: number;
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

/** Any 8-bit samples as opaque RGB over `panel` ([r, g, b]); RGB itself is used as it is (no copy). */
function opaqueRgb(data: Uint8Array, channels: number, pixels: number, panel: readonly number[]): Uint8Array {
  if (channels === 3) return data;
  const out = new Uint8Array(pixels * 3);
  const [pr = 255, pg = 255, pb = 255] = panel;
  const grey = channels < 3;
  const alpha = channels === 2 || channels === 4;
  for (let i = 0, j = 0, o = 0; i < pixels; i++, j += channels, o += 3) {
    const r = data[j] as number;
    const g = grey ? r : (data[j + 1] as number);
    const b = grey ? r : (data[j + 2] as number);
    const a = alpha ? (data[j + channels - 1] as number) : 255;
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
  return out;
}

/** A PNG decoded as opaque RGB of its own size, or null for the PNGs we leave to resvg. */
function decodePngPicture(bytes: Uint8Array, size: Box, panel: readonly number[]): Pixels | null {
  const s = decodePng(bytes) ?? samples(decode(bytes));
  if (!s || s.data.byteLength !== size.width * size.height * s.channels) return null;
  return { ...size, channels: 3, data: opaqueRgb(s.data, s.channels, size.width * size.height, panel) };
}

/** The picture as an opaque raster of the box's size; throws when it cannot be decoded at all. */
export async function pictureRaster(picture: Picture, box: Box, panel: string): Promise<Raster> {
  const rgb = [1, 3, 5].map((i) => Number.parseInt(panel.slice(i, i + 2), 16));
  if (!picture.svg) {
    const png = pngSize(picture.bytes);
    const jpeg = png ? null : jpegSize(picture.bytes);
    const size = png ?? jpeg;
    if (size && size.width * size.height > MAX_PICTURE_PIXELS)
      throw new Error(`picture of ${size.width}x${size.height} pixels: too many to decode`);
    try {
      // JPEGs come out RGBA with alpha 255: valid premultiplied pixels as they are
      const decoded: Pixels | null = png
        ? decodePngPicture(picture.bytes, png, rgb)
        : jpeg
          ? { ...(await decodeJpeg(picture.bytes)), channels: 4 }
          : null;
      if (decoded && decoded.width === box.width && decoded.height === box.height) return decoded;
      if (decoded) return { ...box, channels: 3, data: coverResize(decoded, box.width, box.height) };
    } catch (e) {
      // resvg's decoders get their chance below
      logEvent("warn", "image.picture_decode_failed", { detail: errorMessage(e) });
    }
  }
  const href = picture.svg ? `data:image/svg+xml;base64,${bytesToBase64(picture.bytes)}` : PICTURE_HREF;
  const { width, height } = box;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<rect width="${width}" height="${height}" fill="${panel}"/>
<image href="${href}" width="${width}" height="${height}" preserveAspectRatio="xMidYMid slice"/>
</svg>`;
  const images = picture.svg ? undefined : new Map([[PICTURE_HREF, picture.bytes]]);
  const raster = await renderRaster({ svg, width, images });
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
