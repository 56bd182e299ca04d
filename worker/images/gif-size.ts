/**
 * The pixels a GIF makes its decoder allocate, read from its headers before resvg decodes it: the logical
 * screen and the first frame (the one resvg draws), walking the blocks before it by their lengths.
 */

const u16 = (b: Uint8Array, at: number) => (b[at] as number) | ((b[at + 1] as number) << 8);

/**
 * Width and height covering the logical screen and the first frame, or null when the bytes do not start
 * with a GIF signature. Throws when the GIF ends before its first frame.
 */
export function gifSize(bytes: Uint8Array): { width: number; height: number } | null {
  const signature = String.fromCharCode(...bytes.subarray(0, 6));
  if (signature !== "GIF87a" && signature !== "GIF89a") return null;
  if (bytes.byteLength < 13) throw new Error("gif: truncated header");
  const screen = { width: u16(bytes, 6), height: u16(bytes, 8) };
  const flags = bytes[10] as number;
  let at = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);
  while (at < bytes.byteLength) {
    const block = bytes[at];
    if (block === 0x2c) {
      if (at + 10 > bytes.byteLength) break;
      return {
        width: Math.max(screen.width, u16(bytes, at + 5)),
        height: Math.max(screen.height, u16(bytes, at + 7)),
      };
    }
    if (block !== 0x21) break; // the trailer (3B) or garbage
    // an extension: label, then data sub-blocks until an empty one
    at += 2;
    while (at < bytes.byteLength && bytes[at] !== 0) at += 1 + (bytes[at] as number);
    at += 1;
  }
  throw new Error("gif: no frame");
}
