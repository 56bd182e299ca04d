/**
 * The dot product of two contiguous runs of float64 arrays, with eight running sums: the inner loop of the
 * trainers' dense algebra (EASE's inverse, ALS's solves), about 1.4-1.6 times a plain loop's speed in V8 at
 * lengths 64 and 2,500 (the sums do not wait on each other). Its rounding is its own: a plain loop gives other
 * last bits. `dots4x2`: eight dot products at once, for blocked algebra (EASE's inverse) that would otherwise
 * stream the same long rows from memory again and again. `dotEachRow`: one vector against every row of a matrix
 * (a reader's scores over the catalog), four rows at a time; unlike `dot`, the same bits as a plain loop.
 */

/** sum of a[ao + k] * b[bo + k] for k < len */
export function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let s5 = 0;
  let s6 = 0;
  let s7 = 0;
  let k = 0;
  for (; k + 7 < len; k += 8) {
    const x = ao + k;
    const y = bo + k;
    s0 += (a[x] as number) * (b[y] as number);
    s1 += (a[x + 1] as number) * (b[y + 1] as number);
    s2 += (a[x + 2] as number) * (b[y + 2] as number);
    s3 += (a[x + 3] as number) * (b[y + 3] as number);
    s4 += (a[x + 4] as number) * (b[y + 4] as number);
    s5 += (a[x + 5] as number) * (b[y + 5] as number);
    s6 += (a[x + 6] as number) * (b[y + 6] as number);
    s7 += (a[x + 7] as number) * (b[y + 7] as number);
  }
  for (; k < len; k++) s0 += (a[ao + k] as number) * (b[bo + k] as number);
  return s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7));
}

/**
 * The eight dot products of four runs of `a` (starting at a0..a3) with two runs of `b` (b0, b1), each `len` long:
 * out[2q + p] = sum of a[aq + k] * b[bp + k] for k < len. It loads 6 values per 8 products (a single dot: 16),
 * and an inverse built on it streams each long row once per four rows: EASE's 2,500-item inverse in 5-7.6 s
 * instead of 18-21 s (Node 20, here, the same hours). One running sum per product, added in order: rounding of
 * its own, like `dot`'s.
 */
export function dots4x2(
  a: Float64Array,
  a0: number,
  a1: number,
  a2: number,
  a3: number,
  b: Float64Array,
  b0: number,
  b1: number,
  len: number,
  out: Float64Array,
): void {
  let s00 = 0;
  let s01 = 0;
  let s10 = 0;
  let s11 = 0;
  let s20 = 0;
  let s21 = 0;
  let s30 = 0;
  let s31 = 0;
  for (let k = 0; k < len; k++) {
    const u = b[b0 + k] as number;
    const v = b[b1 + k] as number;
    const x0 = a[a0 + k] as number;
    s00 += x0 * u;
    s01 += x0 * v;
    const x1 = a[a1 + k] as number;
    s10 += x1 * u;
    s11 += x1 * v;
    const x2 = a[a2 + k] as number;
    s20 += x2 * u;
    s21 += x2 * v;
    const x3 = a[a3 + k] as number;
    s30 += x3 * u;
    s31 += x3 * v;
  }
  out[0] = s00;
  out[1] = s01;
  out[2] = s10;
  out[3] = s11;
  out[4] = s20;
  out[5] = s21;
  out[6] = s30;
  out[7] = s31;
}

/**
 * A vector's dot product with every row of a row-major float32 matrix of `out.length` rows of `len`: out[j] = sum
 * of v[vo + c] * m[j * len + c] for c < len, each sum taken in column order (the same bits as one plain loop per
 * row). Four rows at a time share each load of the vector's value: ALS's scores over Online Retail's 3,619 items
 * at 64 factors about twice as fast as one row at a time (Node 20, here); content's use it too.
 */
export function dotEachRow(v: Float32Array, vo: number, m: Float32Array, len: number, out: Float32Array): void {
  const rows = out.length;
  let j = 0;
  for (; j + 3 < rows; j += 4) {
    const o0 = j * len;
    const o1 = o0 + len;
    const o2 = o1 + len;
    const o3 = o2 + len;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let c = 0; c < len; c++) {
      const x = v[vo + c] as number;
      s0 += x * (m[o0 + c] as number);
      s1 += x * (m[o1 + c] as number);
      s2 += x * (m[o2 + c] as number);
      s3 += x * (m[o3 + c] as number);
    }
    out[j] = s0;
    out[j + 1] = s1;
    out[j + 2] = s2;
    out[j + 3] = s3;
  }
  for (; j < rows; j++) {
    let s = 0;
    for (let c = 0; c < len; c++) s += (v[vo + c] as number) * (m[j * len + c] as number);
    out[j] = s;
  }
}
