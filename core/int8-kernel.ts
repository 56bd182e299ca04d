/**
 * The int8 scoring kernel in plain TypeScript: the bit-exact reference for the exported ONNX graph
 *   DynamicQuantizeLinear(user) -> MatMulInteger(., items_q) -> Cast -> Mul(user_scale * item_scale) -> Add(bias) -> TopK
 * Item factors are quantized symmetrically per item (int8, zero point 0); the user vector dynamically
 * to uint8 exactly as ONNX Runtime does it (asymmetric, range widened to include 0, round half to even).
 * Float32 rounding is reproduced with Math.fround at every step the graph rounds.
 */

export interface QuantizedItems {
  /** number of items */
  n: number;
  /** factor dimensions */
  d: number;
  /** item-major int8 factors: item j occupies [j*d, (j+1)*d) */
  q: Int8Array;
  /** per-item dequantization scale (float32) */
  scales: Float32Array;
  /** per-item additive bias (float32); a large negative value keeps an item out of every top-k */
  bias: Float32Array;
}

/** Bias that removes an item from ranking (unavailable / not recommendable). */
export const EXCLUDED_ITEM_BIAS = -1e30;

/** Per-item symmetric int8 quantization of item-major float factors. */
export function quantizeItems(
  factors: ArrayLike<number>,
  n: number,
  d: number,
  bias?: ArrayLike<number>,
): QuantizedItems {
  if (factors.length !== n * d) throw new Error(`factors length ${factors.length} != ${n} x ${d}`);
  const q = new Int8Array(n * d);
  const scales = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let maxAbs = 0;
    for (let k = 0; k < d; k++) maxAbs = Math.max(maxAbs, Math.abs(factors[j * d + k] as number));
    const scale = maxAbs > 0 ? Math.fround(maxAbs / 127) : 1;
    scales[j] = scale;
    for (let k = 0; k < d; k++) {
      const v = roundHalfEven((factors[j * d + k] as number) / scale);
      q[j * d + k] = Math.max(-127, Math.min(127, v));
    }
  }
  const b = new Float32Array(n);
  if (bias) for (let j = 0; j < n; j++) b[j] = bias[j] as number;
  return { n, d, q, scales, bias: b };
}

/** Dequantized item factors (float32, item-major): what the int8 model "believes" the factors are. */
export function dequantizeItems(items: QuantizedItems): Float32Array {
  const out = new Float32Array(items.n * items.d);
  for (let j = 0; j < items.n; j++) {
    const s = items.scales[j] as number;
    for (let k = 0; k < items.d; k++) out[j * items.d + k] = (items.q[j * items.d + k] as number) * s;
  }
  return out;
}

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

export interface DynamicQuantized {
  q: Uint8Array;
  scale: number;
  zeroPoint: number;
}

/** ONNX DynamicQuantizeLinear, as ONNX Runtime computes it (float32 arithmetic). */
export function dynamicQuantizeUint8(x: ArrayLike<number>): DynamicQuantized {
  const f = Math.fround;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < x.length; i++) {
    const v = f(x[i] as number);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi === lo ? 1 : f(f(hi - lo) / 255);
  const initialZeroPoint = f(0 - f(lo / scale));
  const zeroPoint = roundHalfEven(Math.max(0, Math.min(255, initialZeroPoint)));
  const q = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = roundHalfEven(f(f(x[i] as number) / scale)) + zeroPoint;
    q[i] = Math.max(0, Math.min(255, v));
  }
  return { q, scale, zeroPoint };
}

/** Scores of every item for one user, bit-identical to the ONNX graph's pre-TopK output. */
export function scoreInt8(items: QuantizedItems, user: ArrayLike<number>): Float32Array {
  const { n, d, q, scales, bias } = items;
  if (user.length !== d) throw new Error(`user vector has ${user.length} dims, model has ${d}`);
  const uq = dynamicQuantizeUint8(user);
  const centred = new Int32Array(d);
  for (let k = 0; k < d; k++) centred[k] = (uq.q[k] as number) - uq.zeroPoint;
  const out = new Float32Array(n);
  const f = Math.fround;
  for (let j = 0; j < n; j++) {
    let acc = 0;
    const base = j * d;
    for (let k = 0; k < d; k++) acc += (centred[k] as number) * (q[base + k] as number);
    const combined = f(uq.scale * (scales[j] as number));
    out[j] = f(f(f(acc) * combined) + (bias[j] as number));
  }
  return out;
}

/**
 * scoreInt8 for several users at once, each result bit-identical to scoreInt8's: each item's int8 row is read once
 * for eight users (scoreEight; a last block of three to seven is made up to eight with copies of its first user, whose
 * scores are dropped), the rest one at a time, as are all users past MAX_PACKED_DIMS dimensions. The integer dot
 * products are exact in any order, and the float32 steps after them are scoreInt8's, so no bit can differ.
 */
export function scoreInt8Many(items: QuantizedItems, users: readonly ArrayLike<number>[]): Float32Array[] {
  const out: Float32Array[] = [];
  let at = 0;
  if (items.d <= MAX_PACKED_DIMS)
    for (; users.length - at >= 3; at += 8) {
      const block = users.slice(at, at + 8);
      const real = block.length;
      while (block.length < 8) block.push(block[0] as ArrayLike<number>);
      out.push(...scoreEight(items, block).slice(0, real));
    }
  for (; at < users.length; at++) out.push(scoreInt8(items, users[at] as ArrayLike<number>));
  return out;
}

/**
 * Two users' integer dot products in one float64 (scoreEight): `a + b * PACK`, with |a| and |b| at most
 * d * 255 * 128 (a centred uint8 times an int8). For d <= MAX_PACKED_DIMS, |a| < PACK / 2, so b = round(sum / PACK)
 * and a = sum - b * PACK, and every partial sum (< 2^53) is exact.
 */
const PACK = 2 ** 24;
const MAX_PACKED_DIMS = Math.floor((PACK / 2 - 1) / (255 * 128));

/**
 * Eight users per pass over the items, two to a float64 accumulator (PACK): half the multiply-adds of four
 * accumulators per pair, and each item's row read once for eight (`npm run bench -- --only pools` measures the
 * pools step with it).
 */
function scoreEight(items: QuantizedItems, users: readonly ArrayLike<number>[]): Float32Array[] {
  const { n, d, q, scales, bias } = items;
  const quantized = users.map((u) => {
    if (u.length !== d) throw new Error(`user vector has ${u.length} dims, model has ${d}`);
    return dynamicQuantizeUint8(u);
  });
  // pairs (0, 1), (2, 3), (4, 5), (6, 7): dimension k of pair p at k * 4 + p
  const c = new Float64Array(d * 4);
  for (let k = 0; k < d; k++)
    for (let p = 0; p < 4; p++) {
      const lo = quantized[2 * p] as DynamicQuantized;
      const hi = quantized[2 * p + 1] as DynamicQuantized;
      c[k * 4 + p] = (lo.q[k] as number) - lo.zeroPoint + ((hi.q[k] as number) - hi.zeroPoint) * PACK;
    }
  const outs = Array.from({ length: 8 }, () => new Float32Array(n));
  const userScales = Float64Array.from(quantized, (uq) => uq.scale);
  const sums = new Float64Array(8);
  const f = Math.fround;
  for (let j = 0; j < n; j++) {
    let p0 = 0;
    let p1 = 0;
    let p2 = 0;
    let p3 = 0;
    const base = j * d;
    for (let k = 0; k < d; k++) {
      const v = q[base + k] as number;
      const ck = k * 4;
      p0 += (c[ck] as number) * v;
      p1 += (c[ck + 1] as number) * v;
      p2 += (c[ck + 2] as number) * v;
      p3 += (c[ck + 3] as number) * v;
    }
    unpack(p0, sums, 0);
    unpack(p1, sums, 2);
    unpack(p2, sums, 4);
    unpack(p3, sums, 6);
    const sj = scales[j] as number;
    const bj = bias[j] as number;
    for (let u = 0; u < 8; u++)
      (outs[u] as Float32Array)[j] = f(f(f(sums[u] as number) * f((userScales[u] as number) * sj)) + bj);
  }
  return outs;
}

/** A pair's two sums out of one accumulator (PACK), as +0 where a sum is 0 (Math.round can give -0). */
function unpack(packed: number, into: Float64Array, at: number): void {
  const hi = Math.round(packed / PACK) || 0;
  into[at] = packed - hi * PACK;
  into[at + 1] = hi;
}

/** Float reference: dot products of float user and item factors (no quantization). */
export function scoreFloat(
  itemFactors: ArrayLike<number>,
  n: number,
  d: number,
  user: ArrayLike<number>,
): Float32Array {
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let acc = 0;
    for (let k = 0; k < d; k++) acc += (itemFactors[j * d + k] as number) * (user[k] as number);
    out[j] = acc;
  }
  return out;
}

export interface TopK {
  indices: number[];
  scores: number[];
}

/**
 * Top-k by score, descending; equal scores keep the lower index first (as ONNX TopK does). `skip` is asked only
 * of items that would enter the list (a hot loop over the catalog compares, and rarely calls).
 */
export function topK(scores: ArrayLike<number>, k: number, skip?: (index: number) => boolean): TopK {
  const idx: number[] = [];
  const val: number[] = [];
  const kk = Math.min(k, scores.length);
  if (kk <= 0) return { indices: idx, scores: val };
  const n = scores.length;
  // the list's last score once it is full: a score not above it cannot enter
  let floor = Number.NEGATIVE_INFINITY;
  let full = false;
  for (let j = 0; j < n; j++) {
    const s = scores[j] as number;
    if ((full && s <= floor) || skip?.(j)) continue;
    let pos = full ? kk - 1 : idx.length;
    while (pos > 0 && (val[pos - 1] as number) < s) {
      if (pos < kk) {
        val[pos] = val[pos - 1] as number;
        idx[pos] = idx[pos - 1] as number;
      }
      pos--;
    }
    val[pos] = s;
    idx[pos] = j;
    if (!full && idx.length === kk) full = true;
    if (full) floor = val[kk - 1] as number;
  }
  return { indices: idx, scores: val };
}
