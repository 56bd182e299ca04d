/**
 * Benchmark data sets as KV entries: the demo model (trained by `npm start` / `npm run train`) and a
 * synthetic catalog of any size (random 64-factor items, quantized and exported like a real model).
 */
import { base64ToFloat32, bytesToBase64 } from "../../core/base64";
import type { Catalog } from "../../core/catalog";
import { quantizeItems } from "../../core/int8-kernel";
import { kvKeys } from "../../core/kv-keys";
import type { ModelManifest } from "../../core/manifest";
import type { Profile } from "../../core/profile";
import { baseManifest } from "../export/manifest";
import { buildScoringGraph } from "../export/onnx-graph";
import { readScoringGraph } from "../export/read-scoring-graph";
import { Rng } from "../lib/rng";
import { buildProfile } from "../profiles/build-profiles";
import { type KvEntry, modelEntries, profileEntries, readModelArtifacts, readProfiles } from "../seed/kv-entries";
import { CDN_ORIGIN } from "./jpeg-cdn";

export interface Scenario {
  name: string;
  items: number;
  dims: number;
  entries: KvEntry[];
  users: string[];
  /** written over `entries` for a second image run: the same catalog with photo-like pictures */
  photoPictures?: KvEntry[];
  /** and for a third: JPEG photos from a CDN (`jpeg-cdn.ts`), sized by the URL */
  jpegPictures?: KvEntry[];
}

const BENCH_USERS = 256;

function benchEntries(q: Int8Array, scales: Float32Array, users: Float32Array, n: number, d: number): KvEntry[] {
  const b64 = (a: ArrayBufferView) => bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return [
    { key: "bench:q", value: b64(q), base64: true },
    { key: "bench:scales", value: b64(scales), base64: true },
    { key: "bench:users", value: b64(users), base64: true },
    { key: "bench:meta", value: JSON.stringify({ n, d }) },
  ];
}

function profile(userId: string, model: string, vector: Float32Array): Profile {
  return buildProfile(userId, { model, factors: vector });
}

export async function demoScenario(modelDir: string): Promise<Scenario> {
  const a = await readModelArtifacts(modelDir);
  const d = a.manifest.dims;
  const profiles = (await readProfiles(modelDir)).filter((p) => p.factors).slice(0, BENCH_USERS);
  const factors = new Float32Array(profiles.length * d);
  profiles.forEach((p, i) => {
    factors.set(base64ToFloat32(p.factors?.vector as string), i * d);
  });
  const items = readScoringGraph(a.onnx);
  return {
    name: `demo (${a.manifest.itemCount} items)`,
    items: a.manifest.itemCount,
    dims: d,
    users: profiles.map((p) => p.userId),
    entries: [
      ...modelEntries(a, true),
      ...profileEntries(profiles),
      ...benchEntries(items.q, items.scales, factors, items.n, d),
    ],
  };
}

export function syntheticScenario(n: number, d = 64, seed = 1): Scenario {
  const rng = new Rng(seed);
  const factors = Float32Array.from({ length: n * d }, () => rng.normal() * 0.3);
  const items = quantizeItems(factors, n, d);
  const version = `synthetic-${n}`;
  const onnx = buildScoringGraph(items, version);
  const catalog: Catalog = {
    items: Array.from({ length: n }, (_, j) => ({
      id: `s${String(j).padStart(6, "0")}`,
      title: `Synthetic product ${j}`,
      category: `Category ${j % 40}`,
      price: 5 + (j % 200),
      currency: "GBP",
      // drawn by the Worker's demo routes (in-process), as the demo shop's pictures are
      image: `/demo/img/s${String(j).padStart(6, "0")}.png?w={width}&h={height}`,
      url: `https://shop.example/p/s${j}`,
    })),
    popular: Array.from({ length: 200 }, (_, j) => j),
  };
  const manifest: ModelManifest = baseManifest(
    version,
    catalog.items.map((i) => i.id),
    d,
    onnx,
  );
  const users = Float32Array.from({ length: BENCH_USERS * d }, () => rng.normal() * 0.3);
  const ids = Array.from({ length: BENCH_USERS }, (_, i) => `bench-user-${i}`);
  const profiles = ids.map((id, i) => profile(id, version, users.subarray(i * d, (i + 1) * d)));
  return {
    name: `synthetic (${n.toLocaleString("en")} items)`,
    items: n,
    dims: d,
    users: ids,
    entries: [
      ...modelEntries({ dir: "", manifest, catalog, onnx }, true),
      ...profileEntries(profiles),
      ...benchEntries(items.q, items.scales, users, n, d),
    ],
    // photo-like grain: noise is the hard case for PNG decoding and encoding (flat pictures are the easy one)
    photoPictures: [
      {
        key: kvKeys.catalog(version),
        value: JSON.stringify({
          ...catalog,
          items: catalog.items.map((it) => ({ ...it, image: `${it.image}&grain=16` })),
        }),
      },
    ],
    jpegPictures: [
      {
        key: kvKeys.catalog(version),
        value: JSON.stringify({
          ...catalog,
          items: catalog.items.map((it) => ({ ...it, image: `${CDN_ORIGIN}/p/${it.id}.jpg?w={width}&h={height}` })),
        }),
      },
    ],
  };
}
