/**
 * The pixel path of open-time images inside workerd (node:zlib, resvg): PNG encoding round-trips through an
 * independent decoder (fast-png); our PNG decoder reads every filter type, RGBA and split IDAT, and leaves
 * what it does not handle to png-samples.ts (grey, palette, 16-bit, interlaced, of every depth); a card laid
 * over its picture keeps its corners and badge on top;
 * pictures become rasters of their box by the fast path or by resvg (GIF), and SVG or undecodable bytes are
 * refused (hostile pictures: hostile-pictures.test.ts).
 */
import { deflateSync } from "node:zlib";
import { decode, encode } from "fast-png";
import { describe, expect, it } from "vitest";
import { base64ToBytes } from "../../core/base64";
import { jpegSize } from "../../worker/images/jpeg-decode";
import { pictureRaster } from "../../worker/images/picture-raster";
import { decodePng } from "../../worker/images/png-decode";
import { encodePng } from "../../worker/images/png-encode";
import { type Raster, underlay } from "../../worker/images/raster";
import { coverResize } from "../../worker/images/resample";
import { chunk } from "./support/png-chunks";

/** A 40x30 JPEG of #c81e1e (ImageMagick, quality 90). */
const RED_JPEG =
  "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAeACgDAREAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAf/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFgEBAQEAAAAAAAAAAAAAAAAAAAcI/8QAFBEBAAAAAAAAAAAAAAAAAAAAAP/aAAwDAQACEQMRAD8AgSZNxgAAAAAAAAAAAAAAAAAAP//Z";

/** Deterministic pseudo-random bytes. */
function noise(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** A photo-like RGB image: gradients plus a little noise (filters matter on it). */
function photo(width: number, height: number): Uint8Array {
  const grain = noise(width * height * 3, 3);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      out[o] = (x * 3 + ((grain[o] as number) & 7)) & 255;
      out[o + 1] = (y * 2 + ((grain[o + 1] as number) & 7)) & 255;
      out[o + 2] = ((x + y) & 255) ^ ((grain[o + 2] as number) & 3);
    }
  return out;
}

/** A PNG written by hand, row filters chosen by `filterOf(y)`, its data split into `parts` IDAT chunks. */
function handMadePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 3 | 4,
  filterOf: (y: number) => number,
  parts = 1,
): Uint8Array {
  const rowBytes = width * channels;
  const raw = new Uint8Array((rowBytes + 1) * height);
  const paeth = (a: number, b: number, c: number) => {
    const p = a + b - c;
    const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  };
  for (let y = 0; y < height; y++) {
    const f = filterOf(y);
    raw[y * (rowBytes + 1)] = f;
    for (let i = 0; i < rowBytes; i++) {
      const x = pixels[y * rowBytes + i] as number;
      const a = i >= channels ? (pixels[y * rowBytes + i - channels] as number) : 0;
      const b = y > 0 ? (pixels[(y - 1) * rowBytes + i] as number) : 0;
      const c = y > 0 && i >= channels ? (pixels[(y - 1) * rowBytes + i - channels] as number) : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f] as number;
      raw[y * (rowBytes + 1) + 1 + i] = (x - pred) & 255;
    }
  }
  const z = deflateSync(raw);
  const header = new Uint8Array(13);
  new DataView(header.buffer).setUint32(0, width);
  new DataView(header.buffer).setUint32(4, height);
  header.set([8, channels === 3 ? 2 : 6, 0, 0, 0], 8);
  const step = Math.ceil(z.length / parts);
  const idat = Array.from({ length: parts }, (_, i) => chunk("IDAT", z.subarray(i * step, (i + 1) * step)));
  const all = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    ...idat,
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A palette PNG written by hand: `depth`-bit indices (rows packed, unfiltered), its PLTE, and a tRNS of `alpha`
 * when given (the alpha of the first colours).
 */
function palettePng(
  width: number,
  height: number,
  depth: 1 | 2 | 4 | 8,
  indexOf: (x: number, y: number) => number,
  colours: number[][],
  alpha?: number[],
): Uint8Array {
  const stride = Math.ceil((width * depth) / 8);
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const at = y * (stride + 1) + 1 + (bit >> 3);
      raw[at] = (raw[at] as number) | (indexOf(x, y) << (8 - depth - (bit & 7)));
    }
  const header = new Uint8Array(13);
  new DataView(header.buffer).setUint32(0, width);
  new DataView(header.buffer).setUint32(4, height);
  header.set([depth, 3, 0, 0, 0], 8);
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("PLTE", Uint8Array.from(colours.flat())),
    ...(alpha ? [chunk("tRNS", Uint8Array.from(alpha))] : []),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Any PNG written by hand: colour type `colour` at `depth` bits a sample, `interlaced` (Adam7) or not, each pixel's
 * samples from `samplesOf`, each row of each pass filtered by `filterOf(y)` over its packed bytes.
 */
function anyPng(
  width: number,
  height: number,
  colour: 0 | 2 | 3 | 4 | 6,
  depth: 1 | 2 | 4 | 8 | 16,
  interlaced: boolean,
  samplesOf: (x: number, y: number) => number[],
  filterOf: (y: number) => number,
  extra: Uint8Array[] = [],
): Uint8Array {
  const samples = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colour];
  const bits = samples * depth;
  const unit = Math.max(1, bits >> 3);
  const passes = interlaced
    ? [
        [0, 0, 8, 8],
        [4, 0, 8, 8],
        [0, 4, 4, 8],
        [2, 0, 4, 4],
        [0, 2, 2, 4],
        [1, 0, 2, 2],
        [0, 1, 1, 2],
      ]
    : [[0, 0, 1, 1]];
  const rows: number[] = [];
  for (const [x0, y0, dx, dy] of passes as [number, number, number, number][]) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w <= 0 || h <= 0) continue;
    const stride = Math.ceil((w * bits) / 8);
    let above = new Array<number>(stride).fill(0);
    for (let y = 0; y < h; y++) {
      const row = new Array<number>(stride).fill(0);
      for (let x = 0; x < w; x++)
        samplesOf(x0 + x * dx, y0 + y * dy).forEach((v, k) => {
          const bit = (x * samples + k) * depth;
          if (depth === 16) {
            row[bit >> 3] = v >> 8;
            row[(bit >> 3) + 1] = v & 255;
          } else row[bit >> 3] = (row[bit >> 3] as number) | (v << (8 - depth - (bit & 7)));
        });
      const f = filterOf(y);
      rows.push(f);
      for (let i = 0; i < stride; i++) {
        const a = i >= unit ? (row[i - unit] as number) : 0;
        const b = above[i] as number;
        const c = i >= unit ? (above[i - unit] as number) : 0;
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f] as number;
        rows.push(((row[i] as number) - pred) & 255);
      }
      above = row;
    }
  }
  const header = new Uint8Array(13);
  new DataView(header.buffer).setUint32(0, width);
  new DataView(header.buffer).setUint32(4, height);
  header.set([depth, colour, 0, 0, interlaced ? 1 : 0], 8);
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    ...extra,
    chunk("IDAT", deflateSync(Uint8Array.from(rows))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Calls of TypedArray#set (a copy each) made while `run` runs. */
async function typedArraySets(run: () => Promise<unknown>): Promise<number> {
  const proto = Object.getPrototypeOf(Uint8Array.prototype) as { set: (...args: unknown[]) => void };
  const set = proto.set;
  let n = 0;
  proto.set = function (this: unknown, ...args: unknown[]) {
    n++;
    return set.apply(this, args);
  };
  try {
    await run();
  } finally {
    proto.set = set;
  }
  return n;
}

describe("PNG encoding (node:zlib)", () => {
  it("round-trips through fast-png, flattening premultiplied alpha over white", () => {
    const width = 37;
    const height = 23;
    const rgba = noise(width * height * 4);
    // make it valid premultiplied RGBA: colour <= alpha; some pixels opaque, some transparent
    for (let i = 0; i < width * height; i++) {
      const a = i % 5 === 0 ? 0 : i % 3 === 0 ? 255 : (rgba[i * 4 + 3] as number);
      rgba[i * 4 + 3] = a;
      for (let c = 0; c < 3; c++) rgba[i * 4 + c] = Math.min(rgba[i * 4 + c] as number, a);
    }
    // fast-png checks each chunk's CRC-32 with its own code
    const png = decode(encodePng(rgba, width, height), { checkCrc: true });
    expect([png.width, png.height, png.channels, png.depth]).toEqual([width, height, 3, 8]);
    for (let i = 0; i < width * height; i++)
      for (let c = 0; c < 3; c++)
        expect(png.data[i * 3 + c]).toBe((rgba[i * 4 + c] as number) + 255 - (rgba[i * 4 + 3] as number));
  });

  it("compresses flat areas to almost nothing, and refuses a buffer of the wrong size", () => {
    const flat = new Uint8Array(1200 * 520 * 4).fill(255);
    // 1.9 MB of RGB rows
    expect(encodePng(flat, 1200, 520).byteLength).toBeLessThan(1200 * 520 * 3 * 0.01);
    expect(() => encodePng(new Uint8Array(10), 2, 2)).toThrow(/bytes for 2x2/);
  });
});

describe("PNG decoding (node:zlib)", () => {
  const width = 29;
  const height = 17;

  it("reads each filter type (none, sub, up, average, paeth) in RGB and RGBA", () => {
    for (const channels of [3, 4] as const) {
      const pixels = noise(width * height * channels, channels);
      const out = decodePng(handMadePng(pixels, width, height, channels, (y) => y % 5));
      expect(out?.channels).toBe(channels);
      expect([out?.width, out?.height]).toEqual([width, height]);
      expect(Array.from(out?.data ?? [])).toEqual(Array.from(pixels));
    }
  });

  it("joins image data split over several IDAT chunks, and agrees with fast-png on a photo-like image", () => {
    const pixels = photo(64, 48);
    const png = handMadePng(pixels, 64, 48, 3, (y) => (y * 7) % 5, 4);
    expect(Array.from(decodePng(png)?.data ?? [])).toEqual(Array.from(decode(png).data));
    const ours = encodePng(
      Uint8Array.from({ length: 64 * 48 * 4 }, (_, i) =>
        (i & 3) === 3 ? 255 : (pixels[(i >> 2) * 3 + (i & 3)] as number),
      ),
      64,
      48,
    );
    expect(Array.from(decodePng(ours)?.data ?? [])).toEqual(Array.from(pixels));
  });

  it("leaves palette, grey, 16-bit and interlaced PNGs to png-samples.ts (null), and throws on corrupt data", () => {
    const grey = encode({ width: 4, height: 4, data: new Uint8Array(16), channels: 1, depth: 8 });
    const wide = encode({ width: 4, height: 4, data: new Uint16Array(48), channels: 3, depth: 16 });
    expect(decodePng(grey)).toBeNull();
    expect(decodePng(wide)).toBeNull();
    const interlaced = handMadePng(noise(48), 4, 4, 3, () => 0);
    interlaced[8 + 8 + 12] = 1; // IHDR interlace byte
    expect(decodePng(interlaced)).toBeNull();
    expect(decodePng(new TextEncoder().encode("not a png at all, not even close"))).toBeNull();
    const corrupt = handMadePng(noise(48), 4, 4, 3, () => 0);
    corrupt.fill(7, 45, 60); // inside the compressed data
    expect(() => decodePng(corrupt)).toThrow();
  });
});

describe("cards over pictures", () => {
  it("shows the picture through the card's transparent pixels only, blending edges", () => {
    // card 3x1: transparent, half-covered (premultiplied white at 50%), opaque red
    const card: Raster = {
      width: 3,
      height: 1,
      channels: 4,
      data: Uint8Array.from([0, 0, 0, 0, 128, 128, 128, 128, 255, 0, 0, 255]),
    };
    const picture: Raster = {
      width: 3,
      height: 1,
      channels: 3,
      data: Uint8Array.from([10, 20, 30, 10, 20, 30, 10, 20, 30]),
    };
    underlay(card, picture, 0, 0);
    expect(Array.from(card.data)).toEqual([10, 20, 30, 255, 128 + 5, 128 + 10, 128 + 15, 255, 255, 0, 0, 255]);
    expect(() => underlay(card, picture, 5, 0)).toThrow(/outside/);
  });
});

describe("pictures as rasters of their box", () => {
  const box = { width: 40, height: 30 };
  const panel = "#eef0f2";

  it("uses an RGB PNG of the box's size as decoded, and lays an RGBA one over the panel", async () => {
    const rgb = photo(40, 30);
    const fast = await pictureRaster({ bytes: encode({ width: 40, height: 30, data: rgb, channels: 3 }) }, box, panel);
    expect(fast.channels).toBe(3);
    expect(Array.from(fast.data)).toEqual(Array.from(rgb));
    const clear = new Uint8Array(40 * 30 * 4); // fully transparent
    const over = await pictureRaster(
      { bytes: encode({ width: 40, height: 30, data: clear, channels: 4 }) },
      box,
      panel,
    );
    expect(Array.from(over.data.subarray(0, 3))).toEqual([0xee, 0xf0, 0xf2]);
  });

  it("scales other sizes to cover the box, and refuses SVG and undecodable bytes", async () => {
    const red = new Uint8Array(80 * 80 * 3);
    for (let i = 0; i < red.length; i += 3) red[i] = 255;
    const scaled = await pictureRaster(
      { bytes: encode({ width: 80, height: 80, data: red, channels: 3 }) },
      box,
      panel,
    );
    expect([scaled.width, scaled.height]).toEqual([40, 30]);
    const mid = (15 * 40 + 20) * scaled.channels;
    expect(Array.from(scaled.data.subarray(mid, mid + 3))).toEqual([255, 0, 0]);
    const svg = new TextEncoder().encode(
      `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#0000ff"/></svg>`,
    );
    // SVG pictures are not drawn: resvg's work on one is not bounded by its bytes
    await expect(pictureRaster({ bytes: svg }, box, panel)).rejects.toThrow(/unknown format/);
    await expect(pictureRaster({ bytes: new TextEncoder().encode("GIF89a broken") }, box, panel)).rejects.toThrow(
      /gif: truncated header|gif: no frame/,
    );
  });

  it("decodes JPEGs (mozjpeg in wasm), at the box's size as they are and at another size scaled to cover", async () => {
    const jpeg = base64ToBytes(RED_JPEG);
    const exact = await pictureRaster({ bytes: jpeg }, box, panel);
    const smaller = await pictureRaster({ bytes: jpeg }, { width: 20, height: 20 }, panel);
    for (const [raster, w] of [
      [exact, 40],
      [smaller, 20],
    ] as const) {
      expect(raster.width).toBe(w);
      const mid = ((raster.height >> 1) * raster.width + (w >> 1)) * raster.channels;
      const [r, g, b] = Array.from(raster.data.subarray(mid, mid + 3)) as [number, number, number];
      // JPEG is lossy: close to #c81e1e
      expect(Math.abs(r - 0xc8) + Math.abs(g - 0x1e) + Math.abs(b - 0x1e)).toBeLessThan(12);
    }
  });

  it("draws palette PNGs (1 to 8 bits, tRNS over the panel) through a table: no copy call per pixel", async () => {
    const colours = [
      [200, 30, 30],
      [30, 200, 30],
      [30, 30, 200],
      [250, 250, 250],
    ];
    const indexOf = (x: number, y: number) => (x + 2 * y) % 4;
    for (const depth of [2, 4, 8] as const) {
      // the last colour fully transparent: the panel shows through it
      const out = await pictureRaster(
        { bytes: palettePng(40, 30, depth, indexOf, colours, [255, 255, 255, 0]) },
        box,
        panel,
      );
      for (const [x, y] of [
        [0, 0],
        [1, 0],
        [5, 3],
        [39, 29],
      ] as const) {
        const i = indexOf(x, y);
        const o = (y * 40 + x) * 3;
        expect(Array.from(out.data.subarray(o, o + 3)), `${depth} bits at ${x},${y}`).toEqual(
          i === 3 ? [0xee, 0xf0, 0xf2] : colours[i],
        );
      }
    }
    const mono = await pictureRaster({ bytes: palettePng(40, 30, 1, (x) => x % 2, colours) }, box, panel);
    expect(Array.from(mono.data.subarray(0, 6))).toEqual([...(colours[0] as number[]), ...(colours[1] as number[])]);
    // an index past the palette is refused, as before
    await expect(pictureRaster({ bytes: palettePng(40, 30, 8, () => 9, colours) }, box, panel)).rejects.toThrow();
    // a flat 2.25-megapixel palette picture is a few KB; expanded a pixel at a time it took millions of copy calls
    const flat = palettePng(1500, 1500, 8, (x, y) => ((x >> 6) + (y >> 6)) % 3, colours);
    expect(flat.byteLength).toBeLessThan(20_000);
    const t0 = performance.now();
    const sets = await typedArraySets(() => pictureRaster({ bytes: flat }, box, panel));
    console.log(
      `2.25 MP palette PNG (${flat.byteLength} bytes): ${sets} copy calls, ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(sets).toBeLessThan(10_000);
  });

  it("draws interlaced PNGs of every depth (1-, 2- and 4-bit grey and palette too), and 16-bit ones", async () => {
    const w = 13;
    const h = 11;
    const grey = (x: number, y: number, depth: number) => (x * 3 + y * 5) % (1 << depth);
    const at = (r: Raster, x: number, y: number) => Array.from(r.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
    const probes = [
      [0, 0],
      [1, 0],
      [7, 3],
      [12, 10],
      [5, 9],
    ] as const;
    const small = { width: w, height: h };
    for (const interlaced of [false, true])
      for (const depth of [1, 2, 4, 8, 16] as const) {
        const bytes = anyPng(
          w,
          h,
          0,
          depth,
          interlaced,
          (x, y) => [grey(x, y, depth)],
          (y) => y % 5,
        );
        const out = await pictureRaster({ bytes }, small, panel);
        for (const [x, y] of probes) {
          const v = grey(x, y, depth);
          const shown = depth === 16 ? v >> 8 : Math.round((v * 255) / ((1 << depth) - 1));
          expect(at(out, x, y), `grey ${depth} bits, interlaced ${interlaced}, at ${x},${y}`).toEqual([
            shown,
            shown,
            shown,
          ]);
        }
      }
    // palette, 2 bits, interlaced, the last colour transparent (the panel shows)
    const colours = [
      [200, 30, 30],
      [30, 200, 30],
      [30, 30, 200],
      [250, 250, 250],
    ];
    const extra = [chunk("PLTE", Uint8Array.from(colours.flat())), chunk("tRNS", Uint8Array.from([255, 255, 255, 0]))];
    const indexed = anyPng(
      w,
      h,
      3,
      2,
      true,
      (x, y) => [(x + y) % 4],
      (y) => y % 5,
      extra,
    );
    const drawn = await pictureRaster({ bytes: indexed }, small, panel);
    for (const [x, y] of probes)
      expect(at(drawn, x, y), `palette at ${x},${y}`).toEqual(
        (x + y) % 4 === 3 ? [0xee, 0xf0, 0xf2] : colours[(x + y) % 4],
      );
    // 16-bit RGB and 8-bit grey+alpha, interlaced
    const wide = anyPng(
      w,
      h,
      2,
      16,
      true,
      (x, y) => [x * 4000, y * 5000, 65535 - x * y * 300],
      (y) => y % 5,
    );
    const rgb = await pictureRaster({ bytes: wide }, small, panel);
    for (const [x, y] of probes)
      expect(at(rgb, x, y)).toEqual([(x * 4000) >> 8, (y * 5000) >> 8, (65535 - x * y * 300) >> 8]);
    const clear = anyPng(
      w,
      h,
      4,
      8,
      true,
      () => [90, 0],
      (y) => y % 5,
    );
    expect(at(await pictureRaster({ bytes: clear }, small, panel), 12, 10)).toEqual([0xee, 0xf0, 0xf2]);
  });

  it("draws a grey or RGB PNG's tRNS colour transparent (the panel shows), at every depth, on both paths", async () => {
    const w = 13;
    const h = 11;
    const small = { width: w, height: h };
    const at = (r: Raster, x: number, y: number) => Array.from(r.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
    const PANEL = [0xee, 0xf0, 0xf2];
    const key = (...values: number[]) => chunk("tRNS", Uint8Array.from(values.flatMap((v) => [v >> 8, v & 255])));
    // the key is the colour of every third pixel; a colour one step off it is drawn
    const onKey = (x: number, y: number) => (x + y) % 3 === 0;
    for (const interlaced of [false, true]) {
      for (const depth of [8, 16] as const) {
        const top = depth === 16 ? 65535 : 255;
        // 16 bits: the near colour differs in the low byte only, so the key is matched on all 16 bits
        const near = depth === 16 ? [top - 1, 0, 0] : [top, 1, 0];
        const bytes = anyPng(
          w,
          h,
          2,
          depth,
          interlaced,
          (x, y) => (onKey(x, y) ? [top, 0, 0] : x % 2 ? near : [0, 0, top]),
          (y) => y % 5,
          [key(top, 0, 0)],
        );
        const out = await pictureRaster({ bytes }, small, panel);
        for (const [x, y] of [
          [0, 0],
          [1, 0],
          [3, 0],
          [2, 1],
          [12, 10],
          [5, 4],
        ] as const) {
          const drawn = x % 2 ? near.map((v) => v >> (depth - 8)) : [0, 0, 255];
          expect(at(out, x, y), `RGB ${depth} bits, interlaced ${interlaced}, at ${x},${y}`).toEqual(
            onKey(x, y) ? PANEL : drawn,
          );
        }
      }
      for (const depth of [1, 2, 4, 8, 16] as const) {
        const top = (1 << depth) - 1;
        const bytes = anyPng(
          w,
          h,
          0,
          depth,
          interlaced,
          (x, y) => [onKey(x, y) ? 0 : top],
          (y) => y % 5,
          [key(0)],
        );
        const out = await pictureRaster({ bytes }, small, panel);
        expect(at(out, 0, 0), `grey ${depth} bits, interlaced ${interlaced}`).toEqual(PANEL);
        expect(at(out, 1, 0), `grey ${depth} bits, interlaced ${interlaced}`).toEqual([255, 255, 255]);
      }
    }
  });

  it("refuses pictures whose headers announce more than 8 megapixels, before decoding them", async () => {
    const huge = handMadePng(noise(48), 4, 4, 3, () => 0);
    new DataView(huge.buffer).setUint32(16, 10_000); // IHDR width
    new DataView(huge.buffer).setUint32(20, 10_000); // IHDR height
    await expect(pictureRaster({ bytes: huge }, box, panel)).rejects.toThrow(/10000x10000 pixels: too many/);
    expect(jpegSize(base64ToBytes(RED_JPEG))).toEqual({ width: 40, height: 30 });
    expect(jpegSize(new Uint8Array([0xff, 0xd8, 0x00]))).toBeNull();
  });

  it("scales PNGs of another size in JS (no resvg): cover crop, centred", async () => {
    // 80x40: left half red, right half blue; into 20x20 the centre 40x40 is kept, half red, half blue
    const src = new Uint8Array(80 * 40 * 3);
    for (let i = 0; i < 80 * 40; i++) src.set(i % 80 < 40 ? [255, 0, 0] : [0, 0, 255], i * 3);
    const out = await pictureRaster(
      { bytes: encode({ width: 80, height: 40, data: src, channels: 3 }) },
      { width: 20, height: 20 },
      panel,
    );
    const at = (x: number, y: number) => Array.from(out.data.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3));
    expect(at(2, 10)).toEqual([255, 0, 0]);
    expect(at(17, 10)).toEqual([0, 0, 255]);
  });
});

describe("resampling", () => {
  it("averages what each output pixel covers when shrinking: a fine checkerboard becomes even grey", () => {
    const data = new Uint8Array(100 * 100 * 3);
    for (let y = 0; y < 100; y++)
      for (let x = 0; x < 100; x++) data.fill((x + y) % 2 ? 255 : 0, (y * 100 + x) * 3, (y * 100 + x) * 3 + 3);
    const out = coverResize({ width: 100, height: 100, channels: 3, data }, 25, 25);
    expect(Math.min(...out)).toBeGreaterThanOrEqual(127);
    expect(Math.max(...out)).toBeLessThanOrEqual(128);
  });

  it("enlarges bilinearly (corners kept, values between), reading RGBA as well as RGB", () => {
    const rgba = Uint8Array.from([0, 0, 0, 255, 200, 200, 200, 255, 0, 0, 0, 255, 200, 200, 200, 255]);
    const out = coverResize({ width: 2, height: 2, channels: 4, data: rgba }, 8, 8);
    const row = Array.from({ length: 8 }, (_, x) => out[x * 3] as number);
    expect(row[0]).toBe(0);
    expect(row[7]).toBe(200);
    for (let x = 1; x < 8; x++) expect(row[x]).toBeGreaterThanOrEqual(row[x - 1] as number);
  });
});
