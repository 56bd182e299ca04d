/**
 * JPEG decoding with mozjpeg compiled to wasm (@jsquash/jpeg, from Squoosh), instantiated from the module
 * wrangler precompiled, as resvg and ORT are: a 440 px photo decodes in ~3 ms, against ~10 ms for resvg's
 * decode-and-draw. Output: straight RGBA (JPEGs are opaque). libjpeg's fatal errors (a CMYK or 12-bit JPEG,
 * a missing Huffman table) `exit()` out of the wasm mid-decode, leaving its stack and heap as they were: a
 * failed decode retires its instance, and the next picture gets a fresh one.
 */

import mozjpegWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
import decode, { init } from "@jsquash/jpeg/decode.js";
import { exifOrientation } from "./jpeg-orientation";

let ready: Promise<void> | null = null;
/** what libjpeg printed during the current decode (its error message, on a failure) */
let printed = "";

export interface DecodedJpeg {
  width: number;
  height: number;
  /** RGBA, `width * height * 4` bytes, alpha 255 */
  data: Uint8Array;
}

export interface JpegFrame {
  width: number;
  height: number;
  /** an end-of-image marker ends the scans: mozjpeg would fill a cut file's missing rows with grey */
  complete: boolean;
  /** start-of-scan segments: a progressive decoder walks every block of the frame once per scan */
  scans: number;
  /** the EXIF orientation of its first APP1 segment (1-8; 1 without one): jpeg-orientation.ts */
  orientation: number;
}

/**
 * The first start-of-frame segment of a JPEG (what the decoder reads), whether the file is whole, and how many
 * scans it holds, or null when the bytes are not a JPEG with a frame header before its first scan. Linear:
 * marker segments are skipped by their length, and each scan's entropy-coded data up to the next marker (a
 * 0xFF not followed by a stuffed 0x00, a restart marker or another 0xFF).
 */
export function jpegFrame(bytes: Uint8Array): JpegFrame | null {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let size: { width: number; height: number } | null = null;
  let scans = 0;
  let orientation: number | null = null;
  for (let at = 2; at + 1 < bytes.byteLength; ) {
    if (bytes[at] !== 0xff) {
      // before the frame: not a JPEG we read; after it, stray bytes a decoder skips (libjpeg: with a warning)
      if (!size) return null;
      at++;
      continue;
    }
    const marker = bytes[at + 1] as number;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xd9) return size && { ...size, complete: true, scans, orientation: orientation ?? 1 };
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // TEM, RSTn: markers without a length
      continue;
    }
    if (at + 3 >= bytes.byteLength) break;
    // SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC)
    if (!size && marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (at + 9 > bytes.byteLength) return null;
      size = { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    }
    // APP1 before the frame: EXIF, whose orientation says how the picture is shown (the first one counts)
    if (marker === 0xe1 && !size && orientation === null)
      orientation = exifOrientation(bytes, at + 4, Math.min(at + 2 + view.getUint16(at + 2), bytes.byteLength));
    at += 2 + view.getUint16(at + 2);
    if (marker === 0xda) {
      if (!size) return null;
      scans++;
      // the scan's entropy-coded data, up to the next marker
      while (at + 1 < bytes.byteLength) {
        const next = bytes[at + 1] as number;
        if (bytes[at] === 0xff && next !== 0x00 && next !== 0xff && !(next >= 0xd0 && next <= 0xd7)) break;
        at++;
      }
    }
  }
  return size && { ...size, complete: false, scans, orientation: orientation ?? 1 };
}

/** Width and height from a JPEG's start-of-frame segment, or null when it has none. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  const frame = jpegFrame(bytes);
  return frame && { width: frame.width, height: frame.height };
}

export async function decodeJpeg(bytes: Uint8Array): Promise<DecodedJpeg> {
  const start = init as unknown as (module: WebAssembly.Module, options: object) => Promise<void>;
  ready ??= start(mozjpegWasm, { print: () => undefined, printErr: (m: string) => (printed = m) }).catch((e) => {
    ready = null;
    throw e;
  });
  await ready;
  // the decoder wants an ArrayBuffer of exactly the file: copy only a view into a larger buffer
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  printed = "";
  let image: Awaited<ReturnType<typeof decode>>;
  try {
    image = await decode((whole ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer);
  } catch (e) {
    // an exit() unwound the decoder without freeing what it held (its input's copy, its buffers, its stack
    // frames): about 100 such failures overrun the stack, and every JPEG after fails with "memory access out
    // of bounds". The instance is dropped (its memory goes with it) and the next decode starts a new one.
    ready = null;
    const detail = printed || (e as { message?: unknown } | null)?.message;
    throw new Error(`jpeg: ${String(detail ?? "decoding failed")}`);
  }
  return {
    width: image.width,
    height: image.height,
    data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength),
  };
}
