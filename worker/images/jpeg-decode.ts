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

export async function decodeJpeg(bytes: Uint8Array): Promise<DecodedJpeg> {
  ready ??= (init as unknown as (module: WebAssembly.Module) => Promise<void>)(mozjpegWasm).catch((e) => {
    ready = null;
    throw e;
  });
  await ready;
  const copy = bytes.slice().buffer; // the decoder wants an ArrayBuffer of exactly the file
  const image = await decode(copy);
  return {
    width: image.width,
    height: image.height,
    data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength),
  };
}
