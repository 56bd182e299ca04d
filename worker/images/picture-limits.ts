/**
 * What a product picture may cost, checked before anything is allocated for it: bytes read from the
 * picture host (the body is read as a stream and cancelled past the cap, whatever `Content-Length` says),
 * pixels announced by its header (PNG IHDR, JPEG start of frame, GIF screen and first frame), and a JPEG's
 * scans. Decoded, a picture takes 4 bytes a pixel: 3 MB of JPEG can hold 24 megapixels (96 MB), most of an
 * isolate's 128 MB. Larger pictures get the placeholder; product photos are rarely above 4 megapixels.
 */

export const MAX_PICTURE_BYTES = 3 * 1024 * 1024;
export const MAX_PICTURE_PIXELS = 8_000_000;
/**
 * Scans a JPEG may hold: a progressive decoder walks every block once per scan, so a few bytes per scan can
 * cost seconds (3,000 empty scans of 8 megapixels: 75 KB, 5.2 s to decode in workerd against 0.35 s without
 * them). libjpeg's standard progressive script writes 10 scans for a colour picture; 100 leaves room for others.
 */
export const MAX_JPEG_SCANS = 100;
/**
 * Bytes a PNG's image data may inflate to: 8-bit RGBA at MAX_PICTURE_PIXELS with a filter byte per pixel
 * at most (a picture one pixel wide); 16-bit samples count double.
 */
export const MAX_INFLATED_BYTES = 5 * MAX_PICTURE_PIXELS;

/** Throws unless `width` x `height` is a picture we may decode (at least 1x1, at most MAX_PICTURE_PIXELS). */
export function checkPixels(width: number, height: number): void {
  if (!(width >= 1 && height >= 1)) throw new Error(`picture of ${width}x${height} pixels: empty`);
  if (width * height > MAX_PICTURE_PIXELS) throw new Error(`picture of ${width}x${height} pixels: too many to decode`);
}
