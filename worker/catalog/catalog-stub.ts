/** The live catalog's one writer (worker/state/catalog-writer.ts): a single object, named `catalog`. */
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import type { CatalogWriter } from "../state/catalog-writer";

export function catalogWriter(env: Pick<Bindings, "CATALOG">): DurableObjectStub<CatalogWriter> {
  if (!env.CATALOG) throw new ApiError("CATALOG_UNAVAILABLE", "the CATALOG Durable Object binding is not configured");
  return env.CATALOG.get(env.CATALOG.idFromName("catalog"));
}
