/**
 * A stand-in image CDN for the benchmark: answers the Worker's outbound picture fetches
 * (`https://cdn.bench.invalid/p/<id>.jpg?w=<px>&h=<px>`) with photo-like JPEGs of the size asked (colour
 * gradients plus grain, quality 80, encoded in Node by mozjpeg from @jsquash/jpeg), as a CDN serves sized
 * product photos. One JPEG per size, made once; the Worker's fetch still pays the transfer and the decode.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import encode, { init } from "@jsquash/jpeg/encode.js";

export const CDN_ORIGIN = "https://cdn.bench.invalid";

function photoLike(width: number, height: number): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 4);
  let seed = 12345;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const grain = (seed >>> 27) - 16;
      data[o] = 60 + (150 * x) / width + grain;
      data[o + 1] = 90 + (100 * y) / height + grain;
      data[o + 2] = 140 + 60 * Math.sin((x + y) / 40) + grain;
      data[o + 3] = 255;
    }
  return data;
}

/** The outbound handler, and how many pictures it served. */
export async function jpegCdn(): Promise<{ handler: (req: Request) => Promise<Response>; served: () => number }> {
  const wasm = createRequire(import.meta.url).resolve("@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm");
  await (init as unknown as (m: WebAssembly.Module) => Promise<void>)(await WebAssembly.compile(readFileSync(wasm)));
  const bySize = new Map<string, Promise<ArrayBuffer>>();
  let served = 0;
  const handler = async (req: Request) => {
    const url = new URL(req.url);
    if (url.origin !== CDN_ORIGIN) return new Response("not found", { status: 404 });
    const clamp = (v: string | null) => Math.min(1600, Math.max(16, Number(v) || 800));
    const width = clamp(url.searchParams.get("w"));
    const height = clamp(url.searchParams.get("h"));
    const key = `${width}x${height}`;
    let jpeg = bySize.get(key);
    if (!jpeg) {
      const image = { data: photoLike(width, height), width, height, colorSpace: "srgb" } as ImageData;
      jpeg = encode(image, { quality: 80 });
      bySize.set(key, jpeg);
    }
    served++;
    return new Response(await jpeg, {
      headers: { "Content-Type": "image/jpeg", "Cache-Control": "public, max-age=86400" },
    });
  };
  return { handler, served: () => served };
}
