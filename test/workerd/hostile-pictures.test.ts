/**
 * Hostile pictures and picture hosts (issue 10): a decompression-bomb PNG, PNGs with a lying IHDR, a
 * 30,000 x 30,000 GIF, an SVG with a million elements and external references, a truncated JPEG and
 * unknown bytes are refused before they are decoded (or, for the bomb, once its capped inflate passes the
 * bytes its header announces); picture hosts that hang, fail, or send endless bodies without a
 * Content-Length are cut off; their redirects are followed only where the catalog's URL could go (three at
 * most, never to the Worker's own routes: the stub follows redirects as the runtime's fetch would, unless asked
 * for `redirect: "manual"`). Every open still answers 200 with a decodable PNG of the slot's size, the
 * card's placeholder. Fixtures are built here (node:zlib in workerd), no binaries are committed. Times to
 * the placeholder are printed, not asserted (benchmarks measure speed, not tests).
 */
import { env } from "cloudflare:test";
import * as zlib from "node:zlib";
import { decode, encode } from "fast-png";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { base64ToBytes } from "../../core/base64";
import type { Catalog } from "../../core/catalog";
import { kvKeys } from "../../core/kv-keys";
import type { Profile } from "../../core/profile";
import { jpegFrame } from "../../worker/images/jpeg-decode";
import { MAX_REDIRECTS, resetPictureCache } from "../../worker/images/picture-cache";
import { MAX_PICTURE_BYTES } from "../../worker/images/picture-limits";
import { pictureRaster } from "../../worker/images/picture-raster";
import { resetRenderCache } from "../../worker/images/render-slot";
import { resetModelCache } from "../../worker/model/model-store";
import { call, clearKv, fixture, seedModel, token } from "./support/harness";
import { chunk } from "./support/png-chunks";

/** A 40x30 JPEG of #c81e1e (ImageMagick, quality 90). */
const RED_JPEG =
  "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAeACgDAREAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAf/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFgEBAQEAAAAAAAAAAAAAAAAAAAcI/8QAFBEBAAAAAAAAAAAAAAAAAAAAAP/aAAwDAQACEQMRAD8AgSZNxgAAAAAAAAAAAAAAAAAAP//Z";

/** workerd's node:zlib is Node's; `worker/types.d.ts` declares only what the Worker uses. */
const { deflateSync, deflateRawSync } = zlib as unknown as {
  deflateSync: (data: Uint8Array) => Uint8Array;
  deflateRawSync: (data: Uint8Array, options: { finishFlush: number }) => Uint8Array;
};
const Z_FULL_FLUSH = 3;

const BOX = { width: 220, height: 220 };
const PANEL = "#eef0f2";

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** IHDR data: 8-bit RGB, not interlaced. */
function ihdr(width: number, height: number): Uint8Array {
  const data = new Uint8Array(13);
  new DataView(data.buffer).setUint32(0, width);
  new DataView(data.buffer).setUint32(4, height);
  data.set([8, 2, 0, 0, 0], 8);
  return data;
}

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const png = (...chunks: Uint8Array[]) => concat([SIGNATURE, ...chunks, chunk("IEND", new Uint8Array(0))]);

/**
 * A zlib stream of `mib` MiB of zeros, ~1 KB per MiB: one full-flushed deflate block of 1 MiB of zeros
 * (the flush resets the window, so the same bytes follow themselves), repeated, then an empty final block.
 */
function zerosBomb(mib: number): Uint8Array {
  const piece = deflateRawSync(new Uint8Array(1 << 20), { finishFlush: Z_FULL_FLUSH });
  const out = new Uint8Array(2 + piece.byteLength * mib + 2 + 4);
  out.set([0x78, 0x01]);
  for (let i = 0; i < mib; i++) out.set(piece, 2 + i * piece.byteLength);
  const end = 2 + piece.byteLength * mib;
  out.set([0x03, 0x00], end);
  // Adler-32 of n zeros: a = 1, b = n mod 65521
  new DataView(out.buffer).setUint32(end + 2, (((mib * 2 ** 20) % 65521) * 65536 + 1) >>> 0);
  return out;
}

/** 1 GiB of pixel data behind a 2000x2000 RGB header (12 MB): ~1 MB of PNG. */
const bombPng = () => png(chunk("IHDR", ihdr(2000, 2000)), chunk("IDAT", zerosBomb(1024)));

/** 4000x4000 RGB pixel data (48 MB of zeros, 47 KB deflated), made once. */
let bigIdat: Uint8Array | null = null;
const bigImageData = () => {
  bigIdat ??= chunk("IDAT", deflateSync(new Uint8Array(4000 * (4000 * 3 + 1))));
  return bigIdat;
};

/** The size check used to read the first IHDR and the decoder the last: 16x16, then 4000x4000 (16 MP). */
const twoHeadersPng = () => png(chunk("IHDR", ihdr(16, 16)), chunk("IHDR", ihdr(4000, 4000)), bigImageData());

/** The size check used to read bytes 16-24 whatever chunk held them: a 13-byte chunk that looks like IHDR. */
const headerNotFirstPng = () => png(chunk("heHe", ihdr(16, 16)), chunk("IHDR", ihdr(4000, 4000)), bigImageData());

/** A GIF whose screen and only frame are `w` x `h`, its data one white pixel (all of a 1x1 GIF). */
function gif(w: number, h: number): Uint8Array {
  const u16 = (n: number) => [n & 255, n >> 8];
  return Uint8Array.from([
    ...new TextEncoder().encode("GIF89a"),
    ...u16(w),
    ...u16(h),
    0x80, // global colour table of 2 entries
    0,
    0,
    ...[0, 0, 0, 255, 255, 255],
    0x2c,
    ...u16(0),
    ...u16(0),
    ...u16(w),
    ...u16(h),
    0,
    2, // LZW minimum code size
    2,
    0x4c, // 3-bit codes: clear (4), white (1), end (5)
    0x01,
    0,
    0x3b,
  ]);
}

/** A million rectangles by nested <use> (10^6 from 2 KB), plus references to other hosts. */
function millionElementSvg(): Uint8Array {
  const levels = [`<rect id="l0" width="1" height="1" fill="#123456"/>`];
  for (let i = 1; i <= 6; i++) levels.push(`<g id="l${i}">${`<use href="#l${i - 1}"/>`.repeat(10)}</g>`);
  return new TextEncoder().encode(
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100">` +
      `<defs>${levels.join("")}</defs><use href="#l6"/>` +
      `<image href="https://tracker.example/open.png" width="10" height="10"/>` +
      `<use xlink:href="https://tracker.example/sprite.svg#icon"/></svg>`,
  );
}

/**
 * A greyscale progressive JPEG of `side` x `side`: its DC scan, then `acScans` copies of one AC scan whose few
 * bytes of end-of-band runs cover every block (mozjpeg decodes each, walking every block again).
 */
function progressiveJpeg(side: number, acScans: number): Uint8Array {
  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) =>
    out.push(0xff, marker, ((body.length + 2) >> 8) & 255, (body.length + 2) & 255, ...body);
  segment(0xdb, [0, ...new Array(64).fill(1)]);
  segment(0xc2, [8, side >> 8, side & 255, side >> 8, side & 255, 1, 1, 0x11, 0]);
  segment(0xc4, [0x00, 1, ...new Array(15).fill(0), 0x00]);
  segment(0xc4, [0x10, 1, 1, ...new Array(14).fill(0), 0xe0, 0x00]);
  const pack = (bits: string) => {
    const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, "1");
    const packed: number[] = [];
    for (let i = 0; i < padded.length; i += 8) {
      const byte = Number.parseInt(padded.slice(i, i + 8), 2);
      packed.push(byte, ...(byte === 0xff ? [0] : []));
    }
    return packed;
  };
  const blocks = Math.ceil(side / 8) ** 2;
  segment(0xda, [1, 1, 0, 0, 0, 0]);
  out.push(...pack("0".repeat(blocks)));
  let runs = "";
  for (let left = blocks; left > 0; left -= Math.min(left, 32767))
    runs += `0${(Math.min(left, 32767) - 16384).toString(2).padStart(14, "0")}`;
  const ac = [0xff, 0xda, 0, 8, 1, 1, 0, 1, 0x3f, 0, ...pack(runs)];
  for (let i = 0; i < acScans; i++) out.push(...ac);
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}

const truncatedJpeg = () => base64ToBytes(RED_JPEG).slice(0, 300);

/**
 * RED_JPEG with four components (CMYK, as print workflows save product photos): libjpeg converts no CMYK to
 * RGB and stops with a fatal error before reading the scan (its data is left as it was).
 */
function cmykJpeg(): Uint8Array {
  const red = base64ToBytes(RED_JPEG);
  const [sofAt, dhtAt, sosAt] = [158, 177, 268];
  expect([red[sofAt + 1], red[dhtAt + 1], red[sosAt + 1]]).toEqual([0xc0, 0xc4, 0xda]);
  const components = [1, 2, 3, 4];
  const sof = [0xff, 0xc0, 0, 20, 8, 0, 30, 0, 40, 4, ...components.flatMap((c) => [c, 0x11, c === 1 ? 0 : 1])];
  const sos = [0xff, 0xda, 0, 14, 4, ...components.flatMap((c) => [c, c === 1 ? 0 : 0x11]), 0, 0x3f, 0];
  return concat([
    red.subarray(0, sofAt),
    Uint8Array.from(sof),
    red.subarray(dhtAt, sosAt),
    Uint8Array.from(sos),
    red.subarray(sosAt + 14),
  ]);
}
/** A WebP file header: a format we do not decode (resvg would have tried). */
const webp = () => concat([new TextEncoder().encode("RIFF\x24\x00\x00\x00WEBPVP8 "), new Uint8Array(32)]);

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; out: T }> {
  const t0 = performance.now();
  const out = await run();
  return { ms: performance.now() - t0, out };
}

describe("hostile picture fixtures: refused before decoding, the placeholder instead", () => {
  const refused = (bytes: Uint8Array) => pictureRaster({ bytes }, BOX, PANEL);

  it("a decompression-bomb PNG (1 GiB of zeros behind a 12 MB header) stops at the header's bytes", async () => {
    const bomb = bombPng();
    expect(bomb.byteLength).toBeLessThan(MAX_PICTURE_BYTES);
    const { ms } = await timed(() => expect(refused(bomb)).rejects.toThrow(/more image data than its header/));
    console.log(`bomb PNG (${bomb.byteLength} bytes, 1 GiB inflated): refused in ${ms.toFixed(1)} ms`);
    // the same bomb with a palette header (decoded by png-samples.ts) stops at the same cap
    const indexed = ihdr(2000, 2000);
    indexed[9] = 3;
    const palette = png(chunk("IHDR", indexed), chunk("PLTE", new Uint8Array(6)), chunk("IDAT", zerosBomb(1024)));
    await expect(refused(palette)).rejects.toThrow(/more image data than its header/);
    // and an honest picture built the same way still decodes
    const honest = png(chunk("IHDR", ihdr(220, 220)), chunk("IDAT", deflateSync(new Uint8Array(220 * 661))));
    expect((await refused(honest)).width).toBe(220);
  });

  it("a fast-png picture's compressed ICC profile is not inflated (a bomb of its own)", async () => {
    const grey = encode({ width: 4, height: 4, data: new Uint8Array(16).fill(200), channels: 1, depth: 8 });
    const iccp = concat([new TextEncoder().encode("bomb\0\0"), zerosBomb(1024)]);
    // IHDR (33 bytes with the signature), then the profile, then the rest
    const withProfile = concat([grey.subarray(0, 33), chunk("iCCP", iccp), grey.subarray(33)]);
    const out = await refused(withProfile);
    expect(Array.from(out.data.subarray(0, 3))).toEqual([200, 200, 200]);
  });

  it("a lying IHDR: two headers, or one that is not the first chunk", async () => {
    await expect(refused(twoHeadersPng())).rejects.toThrow(/IHDR must be the first chunk and the only one/);
    await expect(refused(headerNotFirstPng())).rejects.toThrow(/IHDR must be the first chunk and the only one/);
  });

  it("GIFs announcing more than 8 megapixels (30,000 x 30,000; 3,500 x 3,500) never reach resvg", async () => {
    await expect(refused(gif(30_000, 30_000))).rejects.toThrow(/30000x30000 pixels: too many/);
    await expect(refused(gif(3_500, 3_500))).rejects.toThrow(/3500x3500 pixels: too many/);
    // a small GIF is still drawn (by resvg): white all over
    const small = await refused(gif(1, 1));
    expect([small.width, small.height]).toEqual([BOX.width, BOX.height]);
    expect(Array.from(small.data.subarray(0, 3))).toEqual([255, 255, 255]);
  });

  it("an SVG with a million elements and external references is not drawn", async () => {
    const { ms } = await timed(() => expect(refused(millionElementSvg())).rejects.toThrow(/unknown format/));
    console.log(`million-element SVG: refused in ${ms.toFixed(1)} ms`);
  });

  it("a truncated JPEG and unknown bytes (WebP) are refused; the whole JPEG still decodes", async () => {
    await expect(refused(truncatedJpeg())).rejects.toThrow(/cut short/);
    await expect(refused(webp())).rejects.toThrow(/unknown format/);
    expect((await refused(base64ToBytes(RED_JPEG))).width).toBe(BOX.width);
  });

  it("CMYK JPEGs are refused, and 150 of them leave the JPEG decoder working for the next pictures", async () => {
    // libjpeg's fatal errors exit() out of the wasm, leaking its stack frames: about 100 of them overran the
    // stack, and every JPEG decoded after failed ("memory access out of bounds") for the isolate's life
    const cmyk = cmykJpeg();
    expect(jpegFrame(cmyk)).toEqual({ width: 40, height: 30, complete: true, scans: 1, orientation: 1 });
    await expect(refused(cmyk)).rejects.toThrow(/jpeg: Unsupported color conversion request/);
    for (let i = 0; i < 150; i++) await expect(refused(cmyk)).rejects.toThrow();
    const red = await refused(base64ToBytes(RED_JPEG));
    expect(red.width).toBe(BOX.width);
    const [r, g, b] = Array.from(red.data.subarray(0, 3)) as [number, number, number];
    expect(Math.abs(r - 0xc8) + Math.abs(g - 0x1e) + Math.abs(b - 0x1e)).toBeLessThan(12);
  });

  it("a progressive JPEG of 3,000 empty scans (75 KB, seconds of decoding) is refused; one of a few scans decodes", async () => {
    const bomb = progressiveJpeg(2816, 3000);
    expect(bomb.byteLength).toBeLessThan(80_000);
    expect(jpegFrame(bomb)).toEqual({ width: 2816, height: 2816, complete: true, scans: 3001, orientation: 1 });
    const { ms } = await timed(() => expect(refused(bomb)).rejects.toThrow(/3001 scans/));
    console.log(`3,000-scan progressive JPEG: refused in ${ms.toFixed(1)} ms`);
    const fair = progressiveJpeg(64, 9);
    expect(jpegFrame(fair)?.scans).toBe(10);
    expect((await refused(fair)).width).toBe(BOX.width);
    // a cut file stays refused, whatever its scans
    await expect(refused(fair.slice(0, fair.byteLength - 2))).rejects.toThrow(/cut short/);
    // stray bytes between segments after the frame are skipped, as decoders do: the scans still count
    const afterFrame = 2 + 69 + 13; // SOI, DQT (2 + 67), SOF2 (2 + 11)
    expect([fair[afterFrame], fair[afterFrame + 1]]).toEqual([0xff, 0xc4]);
    const stray = Uint8Array.from([...fair.slice(0, afterFrame), 0x00, 0x12, ...fair.slice(afterFrame)]);
    expect(jpegFrame(stray)).toMatchObject({ width: 64, complete: true, scans: 10 });
  });
});

/** What the stubbed picture hosts do with the next request. */
type Host = (url: string, init?: RequestInit) => Promise<Response>;
/** The hosts the stub answers for (through `host`): any other request is unexpected. */
const PICTURE_HOSTS = ["https://pictures.hostile.test/", "https://cdn.allowed.test/"];
const REDIRECTS = [301, 302, 303, 307, 308];

const image = (body: BodyInit, type: string, headers: Record<string, string> = {}) =>
  new Response(body, { headers: { "Content-Type": type, ...headers } });
/** A flat PNG of the size a picture URL asks for (`w`, `h`). */
const sizedPng = (url: string) => {
  const { searchParams } = new URL(url);
  const [w, h] = [Number(searchParams.get("w")), Number(searchParams.get("h"))];
  return image(encode({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(90), channels: 3 }), "image/png");
};
const redirect = (location: string | null, status = 302) =>
  new Response(null, { status, headers: location === null ? {} : { Location: location } });

describe("the image route with hostile picture hosts (fault injection)", () => {
  let host: Host;
  let user = "";

  beforeAll(async () => {
    await clearKv();
    await seedModel();
    // every product's picture on a host the test answers for
    const catalog = JSON.parse(fixture().catalogJson) as Catalog;
    for (const item of catalog.items) item.image = `https://pictures.hostile.test/${item.id}.png?w={width}&h={height}`;
    await env.OPENTIME_KV.put(kvKeys.catalog(fixture().version), JSON.stringify(catalog));
    resetModelCache();
    user = (fixture().profiles.find((p) => p.factors !== null) as Profile).userId;
  });

  /** picture URLs asked for: forgotten between cases (memory, failures and the Cache API) */
  const asked = new Set<string>();
  async function forgetPictures() {
    resetPictureCache();
    const cache = (caches as unknown as { default: Cache }).default;
    for (const url of asked) await cache.delete(url);
  }

  /** every request that left the Worker in this case, in order (hops of a redirect included) */
  let requested: string[] = [];

  beforeEach(async () => {
    await forgetPictures();
    resetRenderCache();
    requested = [];
    const stub = async (input: RequestInfo | URL, init?: RequestInit, hops = 0): Promise<Response> => {
      const url = input instanceof Request ? input.url : String(input);
      requested.push(url);
      if (!PICTURE_HOSTS.some((h) => url.startsWith(h))) throw new Error(`unexpected fetch ${url}`);
      asked.add(url);
      const res = await host(url, init);
      const location = res.headers.get("Location");
      // as the runtime's fetch does unless told `redirect: "manual"`: it follows the redirect itself (20 at most)
      if (init?.redirect === "manual" || !REDIRECTS.includes(res.status) || location === null) return res;
      if (hops === 20) throw new TypeError("too many redirects");
      return stub(new URL(location, url).toString(), init, hops + 1);
    };
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => stub(input, init));
  });
  afterEach(() => vi.restoreAllMocks());

  /** An open of card-0 (600x260): a 200 PNG of the slot's size, with what the picture came to. */
  async function open() {
    const t0 = performance.now();
    const res = await call(`/v1/img/${await token(user)}/card-0.png`, {});
    const ms = performance.now() - t0;
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    const drawn = decode(new Uint8Array(await res.arrayBuffer()));
    expect([drawn.width, drawn.height]).toEqual([600, 260]);
    return { render: res.headers.get("X-Opentime-Render"), ms, timing: res.headers.get("Server-Timing") };
  }

  it("hostile pictures give the card's placeholder, and one that failed to decode is not decoded again", async () => {
    const cases: [string, () => Response, string][] = [
      ["bomb PNG", () => image(bombPng(), "image/png"), "picture-undecodable"],
      ["two IHDRs", () => image(twoHeadersPng(), "image/png"), "picture-refused"],
      ["IHDR not first", () => image(headerNotFirstPng(), "image/png"), "picture-refused"],
      ["30,000 x 30,000 GIF", () => image(gif(30_000, 30_000), "image/gif"), "picture-refused"],
      ["million-element SVG", () => image(millionElementSvg(), "image/svg+xml"), "picture-not-an-image"],
      ["SVG labelled PNG", () => image(millionElementSvg(), "image/png"), "picture-refused"],
      ["truncated JPEG", () => image(truncatedJpeg(), "image/jpeg"), "picture-refused"],
      ["WebP labelled JPEG", () => image(webp(), "image/jpeg"), "picture-refused"],
    ];
    for (const [name, respond, render] of cases) {
      await forgetPictures();
      let requests = 0;
      host = async () => {
        requests++;
        return respond();
      };
      const first = await open();
      expect(first.render, name).toBe(render);
      console.log(`${name}: placeholder in ${first.ms.toFixed(1)} ms (${first.timing})`);
      // the next open neither fetches nor decodes it again (a failure is remembered for a minute)
      expect((await open()).render, name).toBe("picture-recent-failure");
      expect(requests, name).toBe(1);
    }
  });

  it("a host that never answers, or never finishes its body, is cut off at the fetch timeout", async () => {
    let aborted = false;
    host = (_url, init) => {
      init?.signal?.addEventListener("abort", () => {
        aborted = true;
      });
      return new Promise<Response>(() => {}); // ignores its signal too
    };
    const hung = await open();
    expect(hung.render).toBe("picture-timeout");
    expect(aborted).toBe(true);
    console.log(`hanging picture host: placeholder in ${hung.ms.toFixed(0)} ms`);

    await forgetPictures();
    let cancelled = false;
    host = async () =>
      image(
        new ReadableStream<Uint8Array>({
          start: (c) => c.enqueue(SIGNATURE),
          pull: () => new Promise<void>(() => {}),
          cancel: () => {
            cancelled = true;
          },
        }),
        "image/png",
      );
    const stalled = await open();
    expect(stalled.render).toBe("picture-timeout");
    expect(cancelled).toBe(true);
    console.log(`stalled picture body: placeholder in ${stalled.ms.toFixed(0)} ms`);
  });

  it("a body without Content-Length is read up to 3 MB and cancelled, not buffered whole", async () => {
    let sent = 0;
    let cancelled = false;
    const piece = new Uint8Array(64 * 1024);
    host = async () =>
      image(
        new ReadableStream<Uint8Array>({
          pull: (c) => {
            // 64 MB in all, unless cancelled
            if (sent >= 64 * 1024 * 1024) return c.close();
            sent += piece.byteLength;
            c.enqueue(piece);
          },
          cancel: () => {
            cancelled = true;
          },
        }),
        "image/png",
      );
    expect((await open()).render).toBe("picture-too-large");
    expect(cancelled).toBe(true);
    expect(sent).toBeGreaterThan(MAX_PICTURE_BYTES);
    expect(sent).toBeLessThanOrEqual(MAX_PICTURE_BYTES + 4 * piece.byteLength);

    // a declared Content-Length over the cap is refused before any byte is read
    await forgetPictures();
    sent = 0;
    host = async () =>
      image(new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(10)) }), "image/png", {
        "Content-Length": String(MAX_PICTURE_BYTES + 1),
      });
    expect((await open()).render).toBe("picture-too-large");
  });

  it("a failing host gives the placeholder; a good picture from the same stub is drawn", async () => {
    host = () => Promise.reject(new TypeError("connection reset"));
    expect((await open()).render).toBe("picture-fetch-error");
    await forgetPictures();
    host = async () => image(new Uint8Array(0), "image/png");
    expect((await open()).render).toBe("picture-empty");
    await forgetPictures();
    host = async (url) => {
      const { searchParams } = new URL(url);
      const [w, h] = [Number(searchParams.get("w")), Number(searchParams.get("h"))];
      return image(encode({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(90), channels: 3 }), "image/png");
    };
    expect((await open()).render).toBe("ok");
  });

  it("a picture is told by its bytes: a JPEG or PNG labelled image/jpg, as an octet stream or not at all is drawn", async () => {
    const jpeg = base64ToBytes(RED_JPEG);
    const cases: [string, (url: string) => Response][] = [
      ["JPEG as image/jpg", () => image(jpeg, "image/jpg")],
      ["JPEG as image/pjpeg", () => image(jpeg, "image/pjpeg")],
      ["JPEG as binary/octet-stream (S3's default)", () => image(jpeg, "binary/octet-stream")],
      [
        "PNG as application/octet-stream",
        (url) => image(sizedPng(url).body as ReadableStream, "application/octet-stream"),
      ],
      ["JPEG without a Content-Type", () => new Response(jpeg)],
    ];
    for (const [name, respond] of cases) {
      await forgetPictures();
      resetRenderCache();
      host = async (url) => respond(url);
      expect((await open()).render, name).toBe("ok");
    }
    // what names itself as something else entirely is still not taken
    await forgetPictures();
    resetRenderCache();
    host = async () => image(jpeg, "text/html; charset=utf-8");
    expect((await open()).render).toBe("picture-not-an-image");
  });

  it("opens of a card being drawn wait for that drawing: the host is asked once, the card drawn once", async () => {
    let requests = 0;
    let answer = () => {};
    const held = new Promise<void>((resolve) => {
      answer = resolve;
    });
    host = async (url) => {
      requests++;
      // the picture comes late, as from a slow host: every open arrives while the first draws
      await held;
      const { searchParams } = new URL(url);
      const [w, h] = [Number(searchParams.get("w")), Number(searchParams.get("h"))];
      return image(encode({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(90), channels: 3 }), "image/png");
    };
    const opens = Array.from({ length: 4 }, () => open());
    await new Promise((resolve) => setTimeout(resolve, 100));
    answer();
    const renders = (await Promise.all(opens)).map((o) => o.render).sort();
    expect(renders).toEqual(["ok", "shared", "shared", "shared"]);
    expect(requests).toBe(1);
    // drawn: later opens take it from the cache
    expect((await open()).render).toBe("cached");
  });

  it("a picture URL on the Worker's own origin but not a demo picture (an open-time image) is not fetched", async () => {
    // the catalog's pictures as another of its own open-time images: drawing one would fetch itself, and so on
    const catalog = JSON.parse(fixture().catalogJson) as Catalog;
    for (const item of catalog.items) item.image = "https://opentime.test/v1/img/any/card-0.png";
    await env.OPENTIME_KV.put(kvKeys.catalog(fixture().version), JSON.stringify(catalog));
    resetModelCache();
    resetRenderCache();
    host = () => Promise.reject(new Error("no outside host is asked"));
    try {
      // another send than the cases before (a decision they stored would be shown again, with its picture)
      const res = await call(`/v1/img/${await token(user, 7777)}/card-0.png`, {});
      expect([res.status, res.headers.get("Content-Type")]).toEqual([200, "image/png"]);
      expect(res.headers.get("X-Opentime-Render")).toBe("picture-bad-url");
    } finally {
      const back = JSON.parse(fixture().catalogJson) as Catalog;
      for (const item of back.items) item.image = `https://pictures.hostile.test/${item.id}.png?w={width}&h={height}`;
      await env.OPENTIME_KV.put(kvKeys.catalog(fixture().version), JSON.stringify(back));
      resetModelCache();
      resetRenderCache();
    }
  });

  describe("redirects: each hop's Location passes the checks the catalog's URL passed", () => {
    /** the request count and the answer of an open whose picture host redirects as `first` says, then serves */
    async function openRedirected(first: (url: string) => Response) {
      await forgetPictures();
      resetRenderCache();
      requested = [];
      host = async (url) => (url.startsWith("https://pictures.hostile.test/") ? first(url) : sizedPng(url));
      return open();
    }
    const ownOrigin = (url: string) => /^https?:\/\/opentime\.test[:/]/i.test(url);

    it("a redirect to the Worker's own routes (clicks, events, open-time images) is refused: no request reaches them", async () => {
      const tok = await token(user, 4242);
      const locations = [
        `https://opentime.test/v1/c/${tok}/card-0`,
        `https://opentime.test/v1/e/${tok}?type=view&item=p1&eid=e1`,
        `https://opentime.test/v1/img/${tok}/card-0.png`,
        `//opentime.test/v1/c/${tok}/card-0`,
        // the Worker's own host over http is the Worker too
        `http://opentime.test/v1/e/${tok}?type=view&item=p1&eid=e2`,
        // a path a URL parser reads as a host
        `/\\opentime.test/v1/c/${tok}/card-0`,
      ];
      for (const location of locations) {
        const res = await openRedirected(() => redirect(location));
        expect(res.render, location).toBe("picture-bad-redirect");
        expect(requested.filter(ownOrigin), location).toEqual([]);
        expect(requested.length, location).toBe(1);
      }
    });

    it("a redirect that is not http(s), has no Location, or one that does not parse, fails to the placeholder", async () => {
      const cases: [string, () => Response][] = [
        ["data: URL", () => redirect("data:image/png;base64,iVBORw0KGgo=")],
        ["file: URL", () => redirect("file:///etc/passwd")],
        ["no Location", () => redirect(null)],
        ["308 without Location", () => redirect(null, 308)],
        ["unparseable Location", () => redirect("https://[::1")],
        ["unparseable host", () => redirect("http://exa mple.test/p.png")],
      ];
      for (const [name, first] of cases) {
        const res = await openRedirected(first);
        expect(res.render, name).toBe("picture-bad-redirect");
        expect(requested.length, name).toBe(1);
      }
    });

    it("a redirect to another host is followed and drawn, and kept under the catalog's URL", async () => {
      const res = await openRedirected((url) =>
        redirect(url.replace("pictures.hostile.test", "cdn.allowed.test"), 301),
      );
      expect(res.render).toBe("ok");
      expect(requested.map((u) => new URL(u).host)).toEqual(["pictures.hostile.test", "cdn.allowed.test"]);
      const cache = (caches as unknown as { default: Cache }).default;
      expect(await cache.match(requested[1] as string)).toBeUndefined();
      const kept = await cache.match(requested[0] as string);
      expect(kept?.headers.get("Content-Type")).toBe("image/png");
      await kept?.arrayBuffer();
      // the next open (memory and drawings forgotten) reads it from the Cache API: no host is asked
      resetPictureCache();
      resetRenderCache();
      requested = [];
      expect((await open()).render).toBe("ok");
      expect(requested).toEqual([]);
    });

    it("a relative Location resolves against the URL that redirected", async () => {
      const res = await openRedirected((url) => {
        const at = new URL(url);
        return at.pathname.startsWith("/moved/") ? sizedPng(url) : redirect(`/moved${at.pathname}${at.search}`, 307);
      });
      expect(res.render).toBe("ok");
      expect(requested.map((u) => new URL(u).pathname)).toEqual([
        expect.stringMatching(/^\/[^/]+\.png$/),
        expect.stringMatching(/^\/moved\/[^/]+\.png$/),
      ]);
      expect(requested.every((u) => u.startsWith("https://pictures.hostile.test/"))).toBe(true);
    });

    it("a redirect to the demo shop's pictures on the Worker's origin is read in-process, as the catalog's would be", async () => {
      const res = await openRedirected((url) => {
        const at = new URL(url);
        return redirect(`https://opentime.test/demo/img${at.pathname}${at.search}`);
      });
      expect(res.render).toBe("ok");
      expect(requested.length).toBe(1);
    });

    it("three redirects are followed; a fourth is one too many and fails to the placeholder", async () => {
      const chain = (redirects: number) => async (url: string) => {
        const at = new URL(url);
        const hop = Number(at.searchParams.get("hop") ?? "0");
        if (hop === redirects) return sizedPng(url);
        at.searchParams.set("hop", String(hop + 1));
        return redirect(at.toString(), [301, 302, 303, 307, 308][hop % 5]);
      };
      await forgetPictures();
      resetRenderCache();
      requested = [];
      expect(MAX_REDIRECTS).toBe(3);
      host = chain(3);
      expect((await open()).render).toBe("ok");
      expect(requested.length).toBe(4);

      await forgetPictures();
      resetRenderCache();
      requested = [];
      host = chain(4);
      expect((await open()).render).toBe("picture-too-many-redirects");
      // the fourth redirect is not followed: its Location is never asked for
      expect(requested.length).toBe(4);

      // a host redirecting to itself forever is cut off the same way
      await forgetPictures();
      resetRenderCache();
      requested = [];
      host = async (url) => redirect(url);
      expect((await open()).render).toBe("picture-too-many-redirects");
      expect(requested.length).toBe(4);
    });

    it("a redirect to a host that never answers is cut off at the same deadline", async () => {
      host = async (url) =>
        url.startsWith("https://pictures.hostile.test/")
          ? redirect(url.replace("pictures.hostile.test", "cdn.allowed.test"))
          : new Promise<Response>(() => {});
      const hung = await open();
      expect(hung.render).toBe("picture-timeout");
      expect(requested.length).toBe(2);
    });
  });
});
