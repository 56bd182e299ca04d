/**
 * PNG reading for product pictures. `parsePng` walks the chunks once: the IHDR must be the first chunk and
 * the only one (the size check and the decoder read the same header), the announced pixels are checked
 * before anything is allocated, and every inflate is capped at the bytes that header implies (a 3 MB IDAT
 * of zeros would otherwise inflate to gigabytes). The 8-bit RGB/RGBA, non-interlaced PNGs image CDNs serve
 * are decoded here with the runtime's native inflate (`node:zlib`), unfiltered in place: about twice as
 * fast as fast-png's JS inflate and half the garbage. The others (grey, palette, 16-bit, interlaced) are
 * decoded by `png-samples.ts`, with the same capped inflate; no other chunk (compressed ICC profiles, text) is
 * ever inflated.
 */
import { inflateSync } from "node:zlib";
import { checkPixels, MAX_INFLATED_BYTES } from "./picture-limits";

/**
 * Room above the bytes a header implies: workerd checks the cap per 64 KiB of output, so a right-sized
 * stream can be refused with less (82 of 300 random pictures were, with the exact size; none with this).
 */
const INFLATE_SLACK = 64 * 1024;

export interface DecodedSamples {
  width: number;
  height: number;
  /** 3: RGB; 4: RGBA (straight alpha) */
  channels: 3 | 4;
  data: Uint8Array;
}

/** The 8 bytes every PNG file starts with. */
export const PNG_SIGNATURE: readonly number[] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA */
  colour: number;
  interlaced: boolean;
}

export interface PngFile {
  header: PngHeader;
  /** the IDAT chunks' data, joined */
  idat: Uint8Array;
  /** IHDR, PLTE, tRNS, IDAT and IEND as they were (png-samples.ts reads the palette from them) */
  critical: Uint8Array[];
  /** bytes the image data inflates to, from the header (filter bytes included) */
  rawBytes: number;
}

/** Samples per pixel and the bit depths the PNG specification allows, by colour type. */
export const COLOUR_TYPES: Record<number, { samples: number; depths: readonly number[] }> = {
  0: { samples: 1, depths: [1, 2, 4, 8, 16] },
  2: { samples: 3, depths: [8, 16] },
  3: { samples: 1, depths: [1, 2, 4, 8] },
  4: { samples: 2, depths: [8, 16] },
  6: { samples: 4, depths: [8, 16] },
};
const KEPT = new Set(["IHDR", "PLTE", "tRNS", "IDAT", "IEND"]);
/** Adam7 passes: first column, first row, column step, row step. */
export const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

const isPng = (bytes: Uint8Array) => bytes.byteLength >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);

/** Bytes the image data of `h` inflates to: per row a filter byte and the row's packed samples. */
function rawSize(h: PngHeader): number {
  const bits = h.depth * (COLOUR_TYPES[h.colour]?.samples ?? 0);
  const rows = (w: number, n: number) => (w > 0 && n > 0 ? n * (1 + Math.ceil((w * bits) / 8)) : 0);
  if (!h.interlaced) return rows(h.width, h.height);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) total += rows(Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy));
  return total;
}

/**
 * The chunks of a PNG, or null when the bytes do not start with the PNG signature. Throws, before
 * anything is inflated or allocated, for a PNG we refuse: IHDR missing, not first or repeated, an invalid
 * header, more than MAX_PICTURE_PIXELS, a truncated chunk, no image data.
 */
export function parsePng(bytes: Uint8Array): PngFile | null {
  if (!isPng(bytes)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: PngHeader | null = null;
  const idat: Uint8Array[] = [];
  const critical: Uint8Array[] = [];
  let at = 8;
  for (; at + 12 <= bytes.byteLength; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + length > bytes.byteLength) throw new Error(`png: truncated ${type} chunk`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if ((type === "IHDR") !== (at === 8)) throw new Error("png: IHDR must be the first chunk and the only one");
    if (type === "IHDR") {
      if (length !== 13) throw new Error("png: IHDR of the wrong length");
      header = {
        width: view.getUint32(at + 8),
        height: view.getUint32(at + 12),
        depth: data[8] as number,
        colour: data[9] as number,
        interlaced: data[12] === 1,
      };
      const kind = COLOUR_TYPES[header.colour];
      if (!kind?.depths.includes(header.depth) || data[10] !== 0 || data[11] !== 0 || (data[12] as number) > 1)
        throw new Error("png: invalid IHDR");
      checkPixels(header.width, header.height);
    } else if (type === "IDAT") idat.push(data);
    if (KEPT.has(type)) critical.push(bytes.subarray(at, at + 12 + length));
    at += 12 + length;
    if (type === "IEND") break;
  }
  if (!header) throw new Error("png: no IHDR");
  if (idat.length === 0) throw new Error("png: no image data");
  const rawBytes = rawSize(header);
  if (rawBytes > MAX_INFLATED_BYTES) throw new Error(`png: ${rawBytes} bytes of image data: too many to decode`);
  let joined = idat[0] as Uint8Array;
  if (idat.length > 1) {
    joined = new Uint8Array(idat.reduce((n, d) => n + d.byteLength, 0));
    let o = 0;
    for (const d of idat) {
      joined.set(d, o);
      o += d.byteLength;
    }
  }
  return { header, idat: joined, critical, rawBytes };
}

/** The data of the critical chunk `type` (PLTE, tRNS), or null. */
export function chunkData(png: PngFile, type: string): Uint8Array | null {
  for (const c of png.critical) {
    if (String.fromCharCode(c[4] as number, c[5] as number, c[6] as number, c[7] as number) === type)
      return c.subarray(8, c.byteLength - 4);
  }
  return null;
}

/** Inflates the image data, never to more than the header implies; throws if there is more (or less). */
export function inflateImageData(png: PngFile): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = inflateSync(png.idat, { maxOutputLength: png.rawBytes + INFLATE_SLACK });
  } catch (e) {
    if (e instanceof RangeError) throw new Error("png: more image data than its header announces");
    throw e;
  }
  if (raw.byteLength < png.rawBytes) throw new Error("png: image data too short");
  return raw;
}

export function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes an 8-bit RGB/RGBA non-interlaced PNG; null for any other kind of PNG (and for bytes that are
 * not a PNG); throws on a refused or corrupt one.
 */
export function decodePng(input: Uint8Array | PngFile): DecodedSamples | null {
  const png = input instanceof Uint8Array ? parsePng(input) : input;
  if (!png) return null;
  const { width, height, depth, colour, interlaced } = png.header;
  if (depth !== 8 || (colour !== 2 && colour !== 6) || interlaced) return null;
  // an RGB picture with a tRNS (one colour transparent) gets its alpha channel in png-samples.ts
  if (colour === 2 && chunkData(png, "tRNS")) return null;
  const channels = colour === 2 ? 3 : 4;
  const rowBytes = width * channels;
  const stride = rowBytes + 1;
  const buf = inflateImageData(png);
  // unfilter row by row, then move the row down over the filter bytes (rows before it are compacted)
  const zeros = new Uint8Array(rowBytes);
  for (let y = 0; y < height; y++) {
    const src = y * stride + 1;
    // the row above: compacted in `buf`, or zeros for the first row
    const above = y === 0 ? zeros : buf;
    const prev = y === 0 ? 0 : (y - 1) * rowBytes;
    const filter = buf[src - 1];
    if (filter === 1) {
      for (let i = channels; i < rowBytes; i++)
        buf[src + i] = (buf[src + i] as number) + (buf[src + i - channels] as number);
    } else if (filter === 2) {
      for (let i = 0; i < rowBytes; i++) buf[src + i] = (buf[src + i] as number) + (above[prev + i] as number);
    } else if (filter === 3) {
      for (let i = 0; i < rowBytes; i++) {
        const left = i >= channels ? (buf[src + i - channels] as number) : 0;
        buf[src + i] = (buf[src + i] as number) + ((left + (above[prev + i] as number)) >> 1);
      }
    } else if (filter === 4) {
      for (let i = 0; i < rowBytes; i++) {
        const left = i >= channels ? (buf[src + i - channels] as number) : 0;
        const upLeft = i >= channels ? (above[prev + i - channels] as number) : 0;
        buf[src + i] = (buf[src + i] as number) + paeth(left, above[prev + i] as number, upLeft);
      }
    } else if (filter !== 0) throw new Error(`png: unknown filter ${filter}`);
    buf.copyWithin(y * rowBytes, src, src + rowBytes);
  }
  return { width, height, channels, data: buf.subarray(0, rowBytes * height) };
}
