/** Module declarations for files wrangler bundles as modules. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

declare module "*.ttf" {
  const data: ArrayBuffer;
  export default data;
}

declare module "*.html" {
  const text: string;
  export default text;
}

declare module "*.txt" {
  const text: string;
  export default text;
}

/** The one Node API the Worker uses (nodejs_compat): workerd's native zlib, for PNG encoding (deflate, CRC-32) and decoding. */
declare module "node:zlib" {
  export function deflateSync(data: Uint8Array, options?: { level?: number; strategy?: number }): Uint8Array;
  /** `maxOutputLength`: a RangeError past it; the output never grows beyond it */
  export function inflateSync(data: Uint8Array, options?: { maxOutputLength?: number }): Uint8Array;
  /** CRC-32 (ISO-HDLC, as PNG chunks carry it), unsigned */
  export function crc32(data: Uint8Array, value?: number): number;
}
