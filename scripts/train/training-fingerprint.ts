/**
 * What a model version's name must change with besides its graphs: the training set itself (the interactions and
 * the purchases, from which profiles, segments, send time, propensity and the drift reference are made), the
 * catalog, and the code that made them (the package's version). An isolate loads a version once, by its name, so
 * two trainings that differ in anything it serves must not share one.
 */
import type { Hash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TrainingSet } from "./training-set";

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Feeds the training set, the catalog and the code's version to `hash`. */
export function fingerprintTrainingSet(hash: Hash, ts: TrainingSet): Hash {
  const { full, purchases: p } = ts;
  const m = full.data.matrix;
  hash.update(JSON.stringify({ code: PACKAGE_VERSION, source: ts.source, end: full.end, catalog: ts.catalog }));
  hash.update(JSON.stringify([full.userIds, full.itemIds, p.customerIds, p.itemIds, p.invoiceIds]));
  for (const a of [
    m.indptr,
    m.indices,
    m.data,
    full.data.lastTime,
    p.customer,
    p.item,
    p.invoice,
    p.time,
    p.quantity,
    p.price,
  ])
    if (a) hash.update(bytes(a));
  return hash;
}
