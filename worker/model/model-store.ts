/**
 * Loads the serving model once per isolate: the `model:active` pointer names a version; its manifest,
 * ONNX bytes (checked against the manifest's sha256) and catalog are read from KV and an ORT session is
 * created. The pointer is re-read at most every `modelRefreshSeconds`, so a KV write switches models
 * without a redeploy. Failures are cached for the same interval (a corrupt model is not re-parsed on
 * every open) and reported as reasons; whatever could be loaded (the catalog) still serves fallbacks.
 */
import { type Catalog, CatalogSchema, type FallbackItems, FallbackItemsSchema } from "../../core/catalog";
import { isKnownFeatureSpec } from "../../core/feature-spec";
import { decodeItemTable, type FoldInTables, type ItemTable } from "../../core/fold-in";
import { kvKeys } from "../../core/kv-keys";
import { ActivePointerSchema, type ModelManifest, ModelManifestSchema } from "../../core/manifest";
import { errorMessage, logEvent } from "../lib/log";
import { createScoringSession, type ScoringSession } from "../ort/ort-runtime";

export interface LoadedModel {
  manifest: ModelManifest;
  catalog: Catalog;
  session: ScoringSession;
  /** the content (LSA) graph, when the model has one */
  content: ScoringSession | null;
  /** item factors and Gram matrix for folding new behaviour into a user vector, when exported */
  foldIn: FoldInTables | null;
  itemIndex: Map<string, number>;
}

export type ModelFailure =
  | "model-pointer-missing"
  | "model-manifest-invalid"
  | "model-spec-unknown"
  | "model-missing"
  | "model-corrupt"
  | "catalog-invalid"
  | "kv-error";

export type ModelState =
  | { ok: true; model: LoadedModel }
  | { ok: false; reason: ModelFailure; version?: string; catalog?: Catalog };

interface CacheEntry {
  checkedAt: number;
  version: string | null;
  state: Promise<ModelState>;
}

let cache: CacheEntry | null = null;

/** Forgets the loaded model (tests, and the bench's cold runs). */
export function resetModelCache(): void {
  cache = null;
}

export async function getModel(kv: KVNamespace, refreshSeconds: number, now = Date.now()): Promise<ModelState> {
  if (cache && now - cache.checkedAt < refreshSeconds * 1000) return cache.state;
  let version: string | null;
  try {
    const raw = await kv.get(kvKeys.activeModel, "json");
    const parsed = ActivePointerSchema.safeParse(raw);
    version = parsed.success ? parsed.data.version : null;
  } catch (e) {
    logEvent("error", "model.pointer_read_failed", { detail: errorMessage(e) });
    // keep serving what this isolate already has
    if (cache) return cache.state;
    return { ok: false, reason: "kv-error" };
  }
  if (cache && cache.version === version && (await cache.state).ok) {
    cache.checkedAt = now;
    return cache.state;
  }
  const previous = cache;
  const state = version === null ? Promise.resolve(fail("model-pointer-missing")) : loadVersion(kv, version);
  cache = { checkedAt: now, version, state };
  void state.then(async (s) => {
    if (s.ok && previous) {
      const old = await previous.state;
      if (old.ok && old.model.session !== s.model.session) {
        await old.model.session.release().catch(() => {});
        await old.model.content?.release().catch(() => {});
      }
    }
  });
  return state;
}

function fail(reason: ModelFailure, version?: string, catalog?: Catalog, detail?: string): ModelState {
  logEvent("error", "model.load_failed", { reason, version, detail });
  return { ok: false, reason, version, catalog };
}

async function loadVersion(kv: KVNamespace, version: string): Promise<ModelState> {
  let manifestRaw: unknown;
  let catalogRaw: unknown;
  let onnx: ArrayBuffer | null;
  let contentOnnx: ArrayBuffer | null;
  let itemTable: ItemTable | null;
  try {
    [manifestRaw, catalogRaw, onnx, contentOnnx, itemTable] = await Promise.all([
      kv.get(kvKeys.manifest(version), "json"),
      kv.get(kvKeys.catalog(version), "json"),
      kv.get(kvKeys.onnx(version), "arrayBuffer"),
      kv.get(kvKeys.contentOnnx(version), "arrayBuffer"),
      kv.get<ItemTable>(kvKeys.itemTable(version), "json"),
    ]);
  } catch (e) {
    return fail("kv-error", version, undefined, errorMessage(e));
  }
  const catalogParse = CatalogSchema.safeParse(catalogRaw);
  const catalog = catalogParse.success ? catalogParse.data : undefined;
  if (!catalog)
    return fail(
      "catalog-invalid",
      version,
      undefined,
      catalogRaw === null ? "catalog missing" : "catalog fails schema",
    );
  const manifestParse = ModelManifestSchema.safeParse(manifestRaw);
  if (!manifestParse.success)
    return fail("model-manifest-invalid", version, catalog, manifestParse.error.message.slice(0, 300));
  const manifest = manifestParse.data;
  if (!isKnownFeatureSpec(manifest.featureSpec))
    return fail("model-spec-unknown", version, catalog, manifest.featureSpec);
  if (catalog.items.length !== manifest.itemCount || manifest.itemIds.length !== manifest.itemCount) {
    return fail("catalog-invalid", version, undefined, "catalog and manifest disagree on the item count");
  }
  if (!onnx) return fail("model-missing", version, catalog, "no ONNX bytes");
  const digest = toHex(await crypto.subtle.digest("SHA-256", onnx));
  if (digest !== manifest.onnxSha256) return fail("model-corrupt", version, catalog, `sha256 ${digest} != manifest`);
  let session: ScoringSession;
  try {
    session = await createScoringSession(new Uint8Array(onnx));
  } catch (e) {
    return fail("model-corrupt", version, catalog, errorMessage(e));
  }
  // the content graph is optional: without it (or if it is damaged) the model serves ALS alone
  let content: ScoringSession | null = null;
  if (manifest.content) {
    if (!contentOnnx || !isKnownFeatureSpec(manifest.content.featureSpec)) {
      logEvent("error", "model.content_unavailable", {
        version,
        detail: contentOnnx ? "unknown feature spec" : "no content ONNX bytes",
      });
    } else if (toHex(await crypto.subtle.digest("SHA-256", contentOnnx)) !== manifest.content.onnxSha256) {
      logEvent("error", "model.content_unavailable", {
        version,
        detail: "content ONNX sha256 does not match the manifest",
      });
    } else {
      content = await createScoringSession(new Uint8Array(contentOnnx)).catch((e) => {
        logEvent("error", "model.content_unavailable", { version, detail: errorMessage(e) });
        return null;
      });
    }
  }
  let foldIn: FoldInTables | null = null;
  if (manifest.foldIn && itemTable) {
    try {
      foldIn = decodeItemTable(itemTable);
      if (foldIn.items.n !== manifest.itemCount || foldIn.items.d !== manifest.dims)
        throw new Error("item table does not match the manifest");
    } catch (e) {
      foldIn = null;
      logEvent("error", "model.fold_in_unavailable", { version, detail: errorMessage(e) });
    }
  }
  logEvent("info", "model.loaded", {
    version,
    items: manifest.itemCount,
    dims: manifest.dims,
    content: content !== null,
  });
  return {
    ok: true,
    model: {
      manifest,
      catalog,
      session,
      content,
      foldIn,
      itemIndex: new Map(manifest.itemIds.map((id, i) => [id, i])),
    },
  };
}

/** Last-resort generic content, independent of any model version. */
export async function getFallbackItems(kv: KVNamespace): Promise<FallbackItems | null> {
  try {
    const parsed = FallbackItemsSchema.safeParse(await kv.get(kvKeys.fallbackItems, { type: "json", cacheTtl: 300 }));
    return parsed.success ? parsed.data : null;
  } catch (e) {
    logEvent("error", "fallback.read_failed", { detail: errorMessage(e) });
    return null;
  }
}

function toHex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}
