/**
 * Content-based recommender for cold start: TF-IDF over item text (descriptions, titles, categories),
 * reduced to `dims` latent dimensions by randomized truncated SVD (latent semantic analysis; Halko,
 * Martinsson and Tropp 2011). Items are unit vectors; a user is the normalized, log-invoice-weighted sum
 * of their items' vectors; the score is the dot product, so the model exports through the same int8
 * dot-product graph as ALS.
 */
import { rowData, rowIndices } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import { dotEachRow } from "../lib/dot";
import { Rng } from "../lib/rng";
import type { Recommender } from "../ranking/recommender-contract";
import { orthonormalizeColumns, symmetricEigen } from "./linalg";

export interface ContentOptions {
  /** latent dimensions of the item text embedding */
  dims: number;
  /** terms must occur in at least this many items */
  minDocFreq: number;
  /** power iterations of the randomized SVD (more = closer to the exact SVD) */
  powerIterations: number;
  seed: number;
}

/**
 * 32 dims: the Worker scores every item's content with its own int8 graph on each ranked open, and at 100k items
 * that graph costs about half as much as at 64 (`npm run bench -- --only ranker`); held-out validation readers
 * scored the ranker no worse over 32 (README, "Models and evaluation"). Content alone ranks worse at 32, but here
 * it is mostly an input to the hybrid and the ranker.
 */
export const DEFAULT_CONTENT_OPTIONS: ContentOptions = { dims: 32, minDocFreq: 2, powerIterations: 3, seed: 17 };

const STOPWORDS = new Set([
  "of",
  "and",
  "the",
  "in",
  "with",
  "for",
  "set",
  "a",
  "an",
  "to",
  "our",
  "part",
  "range",
  "this",
  "is",
]);

/**
 * An item text's words: runs of letters (with their accents) and digits in any script, lower case, NFKC-normalized
 * (a decomposed `é`, a full-width `１２`, read as their usual forms); numbers alone, one-letter words and stopwords
 * dropped. `[a-z0-9]` alone cut `crème` into `cr` and `me`, and read a Cyrillic or Greek catalog as no words at all.
 */
export function tokenize(text: string): string[] {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{M}\p{N}]+/u)
    .filter((t) => t.length >= 2 && !/^\p{N}+$/u.test(t) && !STOPWORDS.has(t));
}

export class ContentLsa implements Recommender {
  readonly name = "content";
  readonly options: ContentOptions;
  /** items x dims, unit rows (zero rows for items without text) */
  itemVectors = new Float32Array(0);
  dims = 0;
  private data: TrainData | null = null;

  constructor(options: Partial<ContentOptions> = {}) {
    this.options = { ...DEFAULT_CONTENT_OPTIONS, ...options };
  }

  fit(data: TrainData): void {
    if (!data.itemText) throw new Error("content needs item text (TrainData.itemText)");
    this.data = data;
    const docs = data.itemText.map(tokenize);
    const n = docs.length;
    const df = new Map<string, number>();
    for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
    const vocab = new Map<string, number>();
    for (const [t, c] of df) if (c >= this.options.minDocFreq) vocab.set(t, vocab.size);
    const v = vocab.size;
    const terms = [...vocab.keys()];
    // sparse rows of L2-normalized tf-idf
    const rows: { idx: Int32Array; val: Float64Array }[] = docs.map((d) => {
      const tf = new Map<number, number>();
      for (const t of d) {
        const id = vocab.get(t);
        if (id !== undefined) tf.set(id, (tf.get(id) ?? 0) + 1);
      }
      const idx = Int32Array.from(tf.keys());
      const val = Float64Array.from(idx, (id) => {
        return (1 + Math.log(tf.get(id) as number)) * Math.log(n / (df.get(terms[id] as string) as number));
      });
      const norm = Math.hypot(...val) || 1;
      for (let k = 0; k < val.length; k++) val[k] = (val[k] as number) / norm;
      return { idx, val };
    });
    const k = Math.max(1, Math.min(this.options.dims, n, v));
    const l = Math.min(k + 10, n, v);
    const rng = new Rng(this.options.seed);
    // Y = A * Omega, then power iterations Y = A (A^T Y)
    let y = new Float64Array(n * l);
    const omega = Float64Array.from({ length: v * l }, () => rng.normal());
    for (let i = 0; i < n; i++) {
      const { idx, val } = rows[i] as { idx: Int32Array; val: Float64Array };
      for (let e = 0; e < idx.length; e++) {
        const o = (idx[e] as number) * l;
        for (let c = 0; c < l; c++)
          y[i * l + c] = (y[i * l + c] as number) + (val[e] as number) * (omega[o + c] as number);
      }
    }
    for (let it = 0; it < this.options.powerIterations; it++) {
      orthonormalizeColumns(y, n, l);
      const z = new Float64Array(v * l); // A^T Y
      for (let i = 0; i < n; i++) {
        const { idx, val } = rows[i] as { idx: Int32Array; val: Float64Array };
        for (let e = 0; e < idx.length; e++) {
          const o = (idx[e] as number) * l;
          for (let c = 0; c < l; c++) z[o + c] = (z[o + c] as number) + (val[e] as number) * (y[i * l + c] as number);
        }
      }
      orthonormalizeColumns(z, v, l);
      y = new Float64Array(n * l);
      for (let i = 0; i < n; i++) {
        const { idx, val } = rows[i] as { idx: Int32Array; val: Float64Array };
        for (let e = 0; e < idx.length; e++) {
          const o = (idx[e] as number) * l;
          for (let c = 0; c < l; c++)
            y[i * l + c] = (y[i * l + c] as number) + (val[e] as number) * (z[o + c] as number);
        }
      }
    }
    orthonormalizeColumns(y, n, l); // Q
    // B = Q^T A (l x v); BB^T = Q^T A A^T Q; U = Q W; item embedding = U_k Sigma_k = Q W_k Sigma_k
    const b = new Float64Array(l * v);
    for (let i = 0; i < n; i++) {
      const { idx, val } = rows[i] as { idx: Int32Array; val: Float64Array };
      for (let e = 0; e < idx.length; e++) {
        const col = idx[e] as number;
        for (let c = 0; c < l; c++)
          b[c * v + col] = (b[c * v + col] as number) + (y[i * l + c] as number) * (val[e] as number);
      }
    }
    const bbt = new Float64Array(l * l);
    for (let p = 0; p < l; p++) {
      for (let q = p; q < l; q++) {
        let s = 0;
        for (let t = 0; t < v; t++) s += (b[p * v + t] as number) * (b[q * v + t] as number);
        bbt[p * l + q] = s;
        bbt[q * l + p] = s;
      }
    }
    const { values, vectors } = symmetricEigen(bbt, l);
    const out = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      let norm = 0;
      const row = new Float64Array(k);
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let p = 0; p < l; p++) s += (y[i * l + p] as number) * (vectors[p * l + c] as number);
        row[c] = s * Math.sqrt(Math.max(0, values[c] as number));
        norm += (row[c] as number) ** 2;
      }
      norm = Math.sqrt(norm);
      for (let c = 0; c < k; c++) out[i * k + c] = norm > 0 ? (row[c] as number) / norm : 0;
    }
    this.itemVectors = out;
    this.dims = k;
  }

  /** The user's content vector: normalized sum of their items' vectors, weighted by log(1 + invoices). */
  userVector(user: number): Float32Array {
    const d = this.data;
    if (!d) throw new Error("not fitted");
    return this.vectorFor(rowIndices(d.matrix, user), rowData(d.matrix, user));
  }

  vectorFor(items: ArrayLike<number>, weights: ArrayLike<number>): Float32Array {
    const k = this.dims;
    const u = new Float64Array(k);
    for (let e = 0; e < items.length; e++) {
      const w = Math.log1p(weights[e] as number);
      const o = (items[e] as number) * k;
      for (let c = 0; c < k; c++) u[c] = (u[c] as number) + w * (this.itemVectors[o + c] as number);
    }
    const norm = Math.sqrt(u.reduce((a, x) => a + x * x, 0)) || 1;
    return Float32Array.from(u, (x) => x / norm);
  }

  scores(user: number): Float32Array {
    const u = this.userVector(user);
    const k = this.dims;
    const n = this.itemVectors.length / Math.max(1, k);
    const out = new Float32Array(n);
    dotEachRow(u, 0, this.itemVectors, k, out);
    return out;
  }

  hyperparameters() {
    return { ...this.options, dims: this.dims };
  }
}
