/**
 * The image of last resort: a plain neutral PNG of the requested size, encoded without resvg (fast-png),
 * for when even the generic card cannot be drawn. Cached per size for the isolate's life.
 */
import { encode } from "fast-png";

const cache = new Map<string, Uint8Array>();

export function solidPng(width: number, height: number): Uint8Array {
  const key = `${width}x${height}`;
  let png = cache.get(key);
  if (!png) {
    const data = new Uint8Array(width * height * 3);
    data.fill(0xee); // #eeeeee
    png = encode({ width, height, data, channels: 3, depth: 8 });
    cache.set(key, png);
  }
  return png;
}
