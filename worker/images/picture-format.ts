/**
 * What a picture is, told by its bytes (never by the host's Content-Type), and whether we may decode it:
 * PNG, JPEG or GIF whose headers announce at most MAX_PICTURE_PIXELS (a PNG with one IHDR, first; a JPEG
 * that is whole, of at most MAX_JPEG_SCANS scans). Reads headers only (and walks a JPEG's markers), in linear
 * time, before anything is decoded or allocated for pixels.
 */
import { gifSize } from "./gif-size";
import { jpegFrame } from "./jpeg-decode";
import { checkPixels, MAX_JPEG_SCANS } from "./picture-limits";
import { type PngFile, parsePng } from "./png-decode";

export type PictureFormat =
  | { kind: "png"; png: PngFile }
  | { kind: "jpeg"; width: number; height: number; orientation: number }
  | { kind: "gif"; width: number; height: number };

/** The picture's format and size; throws for anything we refuse (unknown bytes, SVG, too many pixels, cut). */
export function pictureFormat(bytes: Uint8Array): PictureFormat {
  const png = parsePng(bytes);
  if (png) return { kind: "png", png };
  const jpeg = jpegFrame(bytes);
  if (jpeg) {
    checkPixels(jpeg.width, jpeg.height);
    if (!jpeg.complete) throw new Error("jpeg: cut short (no end of image)");
    if (jpeg.scans > MAX_JPEG_SCANS) throw new Error(`jpeg: ${jpeg.scans} scans (at most ${MAX_JPEG_SCANS} decoded)`);
    return { kind: "jpeg", width: jpeg.width, height: jpeg.height, orientation: jpeg.orientation };
  }
  const gif = gifSize(bytes);
  if (gif) {
    checkPixels(gif.width, gif.height);
    return { kind: "gif", ...gif };
  }
  throw new Error("picture of an unknown format (PNG, JPEG and GIF are drawn)");
}
