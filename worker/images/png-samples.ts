/**
 * Every PNG the fast path (`png-decode.ts` decodePng: 8-bit RGB/RGBA, not interlaced) leaves: grey, grey+alpha,
 * palette, 16-bit and interlaced ones, decoded with the same capped native inflate, unfiltered in place pass by pass
 * (Adam7), to 8-bit samples: 16-bit ones keep their high byte, 1-, 2- and 4-bit grey is scaled to 0-255, palette
 * indices are looked up in a table (RGB, or RGBA with a tRNS). Linear in the pixels; no copy of the image data but
 * the samples written. fast-png read interlaced pictures of fewer than 8 bits a pixel a byte a pixel, and failed on
 * every one of them (`Unsupported filter`); it also inflated in JS, and copied each palette pixel with a call.
 * A grey or RGB picture's tRNS (one colour made transparent) adds an alpha channel: that colour, matched on its
 * samples at the picture's own depth (all 16 bits of a 16-bit one), is transparent, every other one opaque.
 */
import { ADAM7, COLOUR_TYPES, chunkData, inflateImageData, type PngFile, paeth } from "./png-decode";

export interface PngSamples {
  width: number;
  height: number;
  /** 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (straight alpha; a grey or RGB picture with a tRNS gets one) */
  channels: number;
  data: Uint8Array;
}

/** A palette as a table of 256 colours (RGB, or RGBA when tRNS gives alpha), and how many it holds. */
function paletteTable(png: PngFile): { table: Uint8Array; colours: number; channels: 3 | 4 } {
  const plte = chunkData(png, "PLTE");
  if (!plte || plte.byteLength === 0 || plte.byteLength % 3 !== 0) throw new Error("png: palette missing or invalid");
  const trns = chunkData(png, "tRNS");
  const channels = trns && trns.byteLength > 0 ? 4 : 3;
  const colours = Math.min(256, plte.byteLength / 3);
  const table = new Uint8Array(256 * channels);
  for (let i = 0; i < colours; i++) {
    for (let k = 0; k < 3; k++) table[i * channels + k] = plte[i * 3 + k] as number;
    if (channels === 4) table[i * 4 + 3] = i < (trns as Uint8Array).byteLength ? (trns?.[i] as number) : 255;
  }
  return { table, colours, channels };
}

/**
 * A grey or RGB picture's tRNS: its one transparent colour as samples at the picture's depth (each stored in two
 * bytes), or null when it has none (or one too short to read). Colour types with alpha take no tRNS.
 */
function transparentKey(png: PngFile, colour: number, samples: number): number[] | null {
  if (colour !== 0 && colour !== 2) return null;
  const trns = chunkData(png, "tRNS");
  if (!trns || trns.byteLength < samples * 2) return null;
  return Array.from({ length: samples }, (_, k) => ((trns[2 * k] as number) << 8) | (trns[2 * k + 1] as number));
}

/** Unfilters one row in place: its filter byte at `at`, the row above's at `above` (-1: the first row of a pass). */
function unfilterRow(buf: Uint8Array, at: number, above: number, length: number, unit: number): void {
  const filter = buf[at];
  const s = at + 1;
  const u = above + 1;
  if (filter === 0) return;
  if (filter === 1) {
    for (let i = unit; i < length; i++) buf[s + i] = (buf[s + i] as number) + (buf[s + i - unit] as number);
  } else if (filter === 2) {
    if (above < 0) return;
    for (let i = 0; i < length; i++) buf[s + i] = (buf[s + i] as number) + (buf[u + i] as number);
  } else if (filter === 3) {
    for (let i = 0; i < length; i++) {
      const left = i >= unit ? (buf[s + i - unit] as number) : 0;
      const up = above < 0 ? 0 : (buf[u + i] as number);
      buf[s + i] = (buf[s + i] as number) + ((left + up) >> 1);
    }
  } else if (filter === 4) {
    for (let i = 0; i < length; i++) {
      const left = i >= unit ? (buf[s + i - unit] as number) : 0;
      const up = above < 0 ? 0 : (buf[u + i] as number);
      const upLeft = above < 0 || i < unit ? 0 : (buf[u + i - unit] as number);
      buf[s + i] = (buf[s + i] as number) + paeth(left, up, upLeft);
    }
  } else throw new Error(`png: unknown filter ${filter}`);
}

/** The picture as 8-bit samples of its own size; throws on corrupt data (or an index past the palette). */
export function decodePngSamples(png: PngFile): PngSamples {
  const { width, height, depth, colour, interlaced } = png.header;
  const samples = (COLOUR_TYPES[colour] as { samples: number }).samples;
  const bits = depth * samples;
  // a filter looks back a whole pixel, or a byte when a pixel takes less
  const unit = Math.max(1, bits >> 3);
  const palette = colour === 3 ? paletteTable(png) : null;
  const key = transparentKey(png, colour, samples);
  const channels = palette ? palette.channels : samples + (key ? 1 : 0);
  const mask = (1 << Math.min(depth, 8)) - 1;
  const scale = depth < 8 && !palette ? 255 / mask : 1;
  const raw = inflateImageData(png);
  const out = new Uint8Array(width * height * channels);
  let at = 0;
  for (const [x0, y0, dx, dy] of interlaced ? ADAM7 : ([[0, 0, 1, 1]] as const)) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w <= 0 || h <= 0) continue;
    const stride = Math.ceil((w * bits) / 8);
    for (let y = 0; y < h; y++, at += stride + 1) {
      unfilterRow(raw, at, y === 0 ? -1 : at - stride - 1, stride, unit);
      const row = at + 1;
      const outRow = (y0 + y * dy) * width;
      for (let x = 0; x < w; x++) {
        const o = (outRow + x0 + x * dx) * channels;
        if (depth < 8 || palette) {
          const bit = x * depth;
          const v = ((raw[row + (bit >> 3)] as number) >> (8 - depth - (bit & 7))) & mask;
          if (!palette) {
            out[o] = Math.round(v * scale);
            if (key) out[o + 1] = v === key[0] ? 0 : 255;
          } else if (v >= palette.colours) throw new Error(`png: palette index ${v} of ${palette.colours} colours`);
          else for (let k = 0; k < channels; k++) out[o + k] = palette.table[v * channels + k] as number;
        } else {
          // 8 bits a sample, or 16 (their high byte)
          const step = depth >> 3;
          for (let k = 0, i = row + x * samples * step; k < samples; k++, i += step) out[o + k] = raw[i] as number;
          if (key) {
            let keyed = true;
            for (let k = 0, i = row + x * samples * step; k < samples && keyed; k++, i += step)
              keyed = (step === 2 ? ((raw[i] as number) << 8) | (raw[i + 1] as number) : raw[i]) === key[k];
            out[o + samples] = keyed ? 0 : 255;
          }
        }
      }
    }
  }
  return { width, height, channels, data: out };
}
