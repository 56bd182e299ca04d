/**
 * JPEG decoding with mozjpeg compiled to wasm (@jsquash/jpeg, from Squoosh), instantiated from the module
 * wrangler precompiled, as resvg and ORT are: a 440 px photo decodes in ~3 ms, against ~10 ms for resvg's
 * decode-and-draw. Output: straight RGBA (JPEGs are opaque).
 */

import mozjpegWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
import decode, { init } from "@jsquash/jpeg/decode.js";

let ready: Promise<void> | null = null;

export interface DecodedJpeg {
  width: number;
  height: number;
  /** RGBA, `width * height * 4` bytes, alpha 255 */
  data: Uint8Array;
}

/** Width and height from a JPEG's start-of-frame segment, or null when it has none. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
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

export async function decodeJpeg(bytes: Uint8Array): Promise<DecodedJpeg> {
  ready ??= (init as unknown as (module: WebAssembly.Module) => Promise<void>)(mozjpegWasm).catch((e) => {
    ready = null;
    throw e;
  });
  await ready;
  // the decoder wants an ArrayBuffer of exactly the file: copy only a view into a larger buffer
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const image = await decode((whole ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer);
  return {
    width: image.width,
    height: image.height,
    data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength),
  };
}
