/**
 * A JPEG's EXIF orientation (tag 0x0112 of its first APP1 "Exif" segment's IFD0: 1-8, 1 when absent or unreadable)
 * and the pixels turned as it says, as browsers and the shop's own pages show them: phone photos are stored sideways
 * with a tag saying so. The turn is applied to the card-sized raster, after the picture is resized to the box with
 * its axes swapped (orientations 5-8), never to the decoded picture itself: no second full-size buffer.
 */
import type { Pixels } from "./resample";

const ORIENTATION_TAG = 0x0112;
const EXIF = [0x45, 0x78, 0x69, 0x66, 0x00, 0x00]; // "Exif\0\0"

/** The orientation an APP1 segment's payload (after its length) holds, or null when it is no EXIF with one. */
export function exifOrientation(bytes: Uint8Array, start: number, end: number): number | null {
  if (end - start < EXIF.length + 8 || EXIF.some((b, i) => bytes[start + i] !== b)) return null;
  const tiff = start + EXIF.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const order = view.getUint16(tiff);
  if (order !== 0x4949 && order !== 0x4d4d) return null;
  const little = order === 0x4949;
  if (view.getUint16(tiff + 2, little) !== 42) return null;
  const ifd = tiff + view.getUint32(tiff + 4, little);
  if (ifd + 2 > end) return null;
  const entries = view.getUint16(ifd, little);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return null;
    if (view.getUint16(entry, little) !== ORIENTATION_TAG) continue;
    // a SHORT, one of it, held in the entry's value field
    if (view.getUint16(entry + 2, little) !== 3 || view.getUint32(entry + 4, little) !== 1) return null;
    const value = view.getUint16(entry + 8, little);
    return value >= 1 && value <= 8 ? value : null;
  }
  return null;
}

/** Whether the orientation turns the picture a quarter (5-8): shown, its width is its stored height. */
export function swapsAxes(orientation: number): boolean {
  return orientation >= 5 && orientation <= 8;
}

/**
 * The pixels as shown: for each shown (x, y), the stored pixel the orientation puts there. `p` is stored as
 * the file holds it (its width and height swapped from the shown ones for 5-8).
 */
export function orient(p: Pixels, orientation: number): Pixels {
  if (orientation < 2 || orientation > 8) return p;
  const { width: w, height: h, channels: n } = p;
  const swap = swapsAxes(orientation);
  const [W, H] = swap ? [h, w] : [w, h];
  const out = new Uint8Array(p.data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: // mirrored
          [sx, sy] = [w - 1 - x, y];
          break;
        case 3: // turned half
          [sx, sy] = [w - 1 - x, h - 1 - y];
          break;
        case 4: // mirrored top to bottom
          [sx, sy] = [x, h - 1 - y];
          break;
        case 5: // transposed
          [sx, sy] = [y, x];
          break;
        case 6: // to be turned a quarter clockwise
          [sx, sy] = [y, h - 1 - x];
          break;
        case 7: // transversed
          [sx, sy] = [w - 1 - y, h - 1 - x];
          break;
        default: // 8: to be turned a quarter counter-clockwise
          [sx, sy] = [w - 1 - y, x];
      }
      const from = (sy * w + sx) * n;
      const to = (y * W + x) * n;
      for (let c = 0; c < n; c++) out[to + c] = p.data[from + c] as number;
    }
  }
  return { width: W, height: H, channels: n, data: out };
}
