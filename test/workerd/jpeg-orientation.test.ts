/**
 * JPEG pictures shown as their EXIF orientation says (worker/images/jpeg-orientation.ts), as browsers and the
 * shop's pages show them: a 16x8 picture, red on the left and blue on the right, tagged with each of the eight
 * orientations, drawn into a box of its shown size and into a larger one (the resize path).
 */
import { describe, expect, it } from "vitest";
import { base64ToBytes } from "../../core/base64";
import { jpegFrame } from "../../worker/images/jpeg-decode";
import { pictureRaster } from "../../worker/images/picture-raster";
import type { Raster } from "../../worker/images/raster";

/** 16x8, the left half #c81e1e and the right #1e3cc8 (mozjpeg through @jsquash/jpeg's encoder, 4:4:4, quality 95). */
const HALVES_JPEG =
  "/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEAAICAgICAgICAgIDAwIDAwQDAwMDBAYEBAQEBAYJBQYFBQYFCQgJBwcHCQgOCwkJCw4QDQwNEBMRERMYFxgfHyoBAgICAgICAgICAgMDAgMDBAMDAwMEBgQEBAQEBgkFBgUFBgUJCAkHBwcJCA4LCQkLDhANDA0QExERExgXGB8fKv/AABEIAAgAEAMBEQACEQEDEQH/xABMAAEBAAAAAAAAAAAAAAAAAAAGCBABAAAAAAAAAAAAAAAAAAAAAAEBAQAAAAAAAAAAAAAAAAAACQcRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/AJDQsqgOaAIb/9k=";

/** The JPEG with an APP1 EXIF segment (IFD0 holding only the orientation) right after its start of image. */
function tagged(orientation: number, little = false): Uint8Array {
  const jpeg = base64ToBytes(HALVES_JPEG);
  const tiff = new Uint8Array(26);
  const view = new DataView(tiff.buffer);
  view.setUint16(0, little ? 0x4949 : 0x4d4d);
  view.setUint16(2, 42, little);
  view.setUint32(4, 8, little); // IFD0 right after the header
  view.setUint16(8, 1, little); // one entry
  view.setUint16(10, 0x0112, little); // Orientation
  view.setUint16(12, 3, little); // SHORT
  view.setUint32(14, 1, little); // one of them
  view.setUint16(18, orientation, little);
  view.setUint32(22, 0, little); // no next IFD
  const payload = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
  const length = payload.length + 2;
  return Uint8Array.from([0xff, 0xd8, 0xff, 0xe1, length >> 8, length & 0xff, ...payload, ...jpeg.slice(2)]);
}

const RED = [200, 30, 30];
const BLUE = [30, 60, 200];
/** Which of the two colours the raster shows at (x, y), its channels read as RGB. */
function colourAt(r: Raster, x: number, y: number): "red" | "blue" | "other" {
  const at = (y * r.width + x) * r.channels;
  const px = [r.data[at], r.data[at + 1], r.data[at + 2]] as number[];
  const near = (c: number[]) => c.every((v, i) => Math.abs(v - (px[i] as number)) <= 12);
  return near(RED) ? "red" : near(BLUE) ? "blue" : "other";
}

/** The colours at the shown picture's four sides' middles: [left, right, top, bottom]. */
function sides(r: Raster): string[] {
  const [w, h] = [r.width, r.height];
  return [colourAt(r, 1, h >> 1), colourAt(r, w - 2, h >> 1), colourAt(r, w >> 1, 1), colourAt(r, w >> 1, h - 2)];
}

describe("JPEG EXIF orientation", () => {
  // shown: [left, right, top, bottom] of the 16x8 picture as each orientation shows it
  const cases: [number, string[]][] = [
    [1, ["red", "blue", "other", "other"]],
    [2, ["blue", "red", "other", "other"]],
    [3, ["blue", "red", "other", "other"]],
    [4, ["red", "blue", "other", "other"]],
    [5, ["other", "other", "red", "blue"]],
    [6, ["other", "other", "red", "blue"]],
    [7, ["other", "other", "blue", "red"]],
    [8, ["other", "other", "blue", "red"]],
  ];

  it.each(cases)("orientation %i is shown turned as it says, at its size and resized", async (orientation, shown) => {
    const bytes = tagged(orientation);
    expect(jpegFrame(bytes)).toMatchObject({ width: 16, height: 8, orientation });
    const quarter = orientation >= 5;
    for (const scale of [1, 5]) {
      const box = quarter ? { width: 8 * scale, height: 16 * scale } : { width: 16 * scale, height: 8 * scale };
      const r = await pictureRaster({ bytes }, box, "#ffffff");
      expect([r.width, r.height]).toEqual([box.width, box.height]);
      // the halves meet in the middle: the sides across the split show one colour each, the others both
      const [left, right, top, bottom] = sides(r);
      if (quarter) expect([top, bottom]).toEqual(shown.slice(2));
      else expect([left, right]).toEqual(shown.slice(0, 2));
    }
  });

  it("reads little-endian EXIF too; without a readable tag the picture is shown as stored", async () => {
    expect(jpegFrame(tagged(6, true))).toMatchObject({ orientation: 6 });
    expect(jpegFrame(base64ToBytes(HALVES_JPEG))).toMatchObject({ orientation: 1 });
    // an orientation out of range, and an APP1 cut short after "Exif": as stored, never an error
    expect(jpegFrame(tagged(9))).toMatchObject({ orientation: 1 });
    const cut = tagged(6);
    cut[5] = 10; // the APP1's length: "Exif\0\0" and two bytes of the TIFF header
    const r = await pictureRaster({ bytes: tagged(9) }, { width: 16, height: 8 }, "#ffffff");
    expect(sides(r).slice(0, 2)).toEqual(["red", "blue"]);
    expect(jpegFrame(cut)?.orientation ?? 1).toBe(1);
  });
});
