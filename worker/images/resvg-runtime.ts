/**
 * resvg (SVG -> pixels) in workerd: the wasm module wrangler precompiled (CompiledWasm rule, as for ORT) is
 * instantiated once per isolate, and the fonts come from the Roboto files of @expo-google-fonts/roboto,
 * bundled as Data modules. Pictures are handed to resvg as bytes (`resolveImage`), never fetched by it.
 * resvg only draws: PNG encoding is `png-encode.ts` (native deflate), about three times faster than resvg's.
 */

import robotoRegular from "@expo-google-fonts/roboto/400Regular/Roboto_400Regular.ttf";
import robotoBold from "@expo-google-fonts/roboto/700Bold/Roboto_700Bold.ttf";
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import resvgWasm from "@resvg/resvg-wasm/index_bg.wasm";
import type { Raster } from "./raster";

let ready: Promise<void> | null = null;
const fonts = [new Uint8Array(robotoRegular), new Uint8Array(robotoBold)];

function init(): Promise<void> {
  ready ??= initWasm(resvgWasm).catch((e) => {
    ready = null; // let the next request try again
    throw e;
  });
  return ready;
}

export interface RenderInput {
  svg: string;
  /** output width in pixels (the SVG's viewBox is scaled to it) */
  width: number;
  /** picture bytes by the `href` used in the SVG */
  images?: ReadonlyMap<string, Uint8Array>;
}

/** Draws the SVG into premultiplied RGBA pixels; throws on any failure (the caller serves its fallback). */
export async function renderRaster(input: RenderInput): Promise<Raster> {
  await init();
  const resvg = new Resvg(input.svg, {
    fitTo: { mode: "width", value: input.width },
    font: { fontBuffers: fonts, defaultFontFamily: "Roboto", sansSerifFamily: "Roboto" },
    shapeRendering: 2,
    textRendering: 1,
    imageRendering: 0,
  });
  try {
    for (const href of resvg.imagesToResolve() as string[]) {
      const bytes = input.images?.get(href);
      if (bytes) resvg.resolveImage(href, bytes);
    }
    const image = resvg.render();
    try {
      return { width: image.width, height: image.height, channels: 4, data: image.pixels };
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}
