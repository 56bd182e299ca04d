/**
 * A product picture as pixels of exactly its box on the card, opaque over the card's picture panel.
 * The format is told by the bytes and the pixels its header announces are checked before anything is
 * decoded (`picture-format.ts`): PNGs are decoded with a capped native
 * inflate (`png-decode.ts`; grey, palette, 16-bit and interlaced ones by `png-samples.ts`), JPEGs by mozjpeg in
 * wasm (`jpeg-decode.ts`), and a picture of another size than the box is then scaled to cover it
 * (`resample.ts`). GIFs are drawn by resvg, scaled to cover the box. Anything else (SVG, WebP, unknown or
 * cut bytes) is refused: the card shows its placeholder. A picture of the box's size (what a
 * `{width}`/`{height}` catalog URL yields) needs no scaling at all.
 */
import { decodeJpeg } from "./jpeg-decode";
import { orient, swapsAxes } from "./jpeg-orientation";
import type { Picture } from "./picture-cache";
import { pictureFormat } from "./picture-format";
import { decodePng, type PngFile } from "./png-decode";
import { decodePngSamples } from "./png-samples";
import type { Raster } from "./raster";
import { coverResize, type Pixels } from "./resample";
import { renderRaster } from "./resvg-runtime";

/** resvg asks for pictures by URL; this one is never fetched, its bytes are handed over. */
const PICTURE_HREF = "https://picture.opentime.invalid/p";

export interface Box {
  width: number;
  height: number;
}

/** Any 8-bit samples as opaque RGB over `panel` ([r, g, b]); RGB itself is used as it is (no copy). */
function opaqueRgb(data: Uint8Array, channels: number, pixels: number, panel: readonly number[]): Uint8Array {
  if (channels === 3) return data;
  const out = new Uint8Array(pixels * 3);
  const [pr = 255, pg = 255, pb = 255] = panel;
  const grey = channels < 3;
  const alpha = channels === 2 || channels === 4;
  for (let i = 0, j = 0, o = 0; i < pixels; i++, j += channels, o += 3) {
    const r = data[j] as number;
    const g = grey ? r : (data[j + 1] as number);
    const b = grey ? r : (data[j + 2] as number);
    const a = alpha ? (data[j + channels - 1] as number) : 255;
    if (a === 255) {
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    } else {
      const k = 255 - a;
      out[o] = ((r * a + pr * k + 127) / 255) | 0;
      out[o + 1] = ((g * a + pg * k + 127) / 255) | 0;
      out[o + 2] = ((b * a + pb * k + 127) / 255) | 0;
    }
  }
  return out;
}

/** A PNG (already parsed and size-checked) decoded as opaque RGB of its own size. */
function decodePngPicture(png: PngFile, panel: readonly number[]): Pixels {
  const { width, height } = png.header;
  const s = decodePng(png) ?? decodePngSamples(png);
  if (s.data.byteLength !== width * height * s.channels) throw new Error("png: decoded to the wrong size");
  return { width, height, channels: 3, data: opaqueRgb(s.data, s.channels, width * height, panel) };
}

/**
 * The picture's pixels of its own size as stored, with the EXIF orientation that turns them as shown (1: as
 * stored; JPEGs only), or "gif" for resvg to draw; throws for anything refused.
 */
async function decodePicture(
  bytes: Uint8Array,
  panel: readonly number[],
): Promise<{ pixels: Pixels; orientation: number } | "gif"> {
  const format = pictureFormat(bytes);
  if (format.kind === "png") return { pixels: decodePngPicture(format.png, panel), orientation: 1 };
  if (format.kind === "gif") return "gif";
  // JPEGs come out RGBA with alpha 255: valid premultiplied pixels as they are
  const decoded = await decodeJpeg(bytes);
  if (decoded.width !== format.width || decoded.height !== format.height)
    throw new Error("jpeg: decoded to another size than its frame header");
  return { pixels: { ...decoded, channels: 4 }, orientation: format.orientation };
}

/** The picture as an opaque raster of the box's size; throws when it is refused or cannot be decoded. */
export async function pictureRaster(picture: Picture, box: Box, panel: string): Promise<Raster> {
  const rgb = [1, 3, 5].map((i) => Number.parseInt(panel.slice(i, i + 2), 16));
  const decoded = await decodePicture(picture.bytes, rgb);
  if (decoded !== "gif") {
    // resized as stored to the box as stored (its sides swapped when the picture is shown turned a quarter),
    // then turned as shown (jpeg-orientation.ts): the turn works on the box's pixels only
    const { pixels, orientation } = decoded;
    const [width, height] = swapsAxes(orientation) ? [box.height, box.width] : [box.width, box.height];
    const sized: Pixels =
      pixels.width === width && pixels.height === height
        ? pixels
        : { width, height, channels: 3, data: coverResize(pixels, width, height) };
    return orient(sized, orientation);
  }
  const { width, height } = box;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<rect width="${width}" height="${height}" fill="${panel}"/>
<image href="${PICTURE_HREF}" width="${width}" height="${height}" preserveAspectRatio="xMidYMid slice"/>
</svg>`;
  const raster = await renderRaster({ svg, width, images: new Map([[PICTURE_HREF, picture.bytes]]) });
  // resvg skips bytes it cannot decode: the bare panel means there was no picture
  if (onlyPanel(raster, rgb)) throw new Error("picture could not be decoded");
  return raster;
}

function onlyPanel(r: Raster, [pr, pg, pb]: readonly number[]): boolean {
  const d = r.data;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] !== pr || d[i + 1] !== pg || d[i + 2] !== pb) return false;
  }
  return true;
}
