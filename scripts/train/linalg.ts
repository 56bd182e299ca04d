/** Small dense linear algebra for the trainers: orthonormalization and symmetric eigendecomposition. */

/** Orthonormalizes the columns of a row-major rows x cols matrix in place (modified Gram-Schmidt). */
export function orthonormalizeColumns(m: Float64Array, rows: number, cols: number): void {
  for (let c = 0; c < cols; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < rows; r++) dot += (m[r * cols + c] as number) * (m[r * cols + p] as number);
      for (let r = 0; r < rows; r++) m[r * cols + c] = (m[r * cols + c] as number) - dot * (m[r * cols + p] as number);
    }
    let norm = 0;
    for (let r = 0; r < rows; r++) norm += (m[r * cols + c] as number) ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let r = 0; r < rows; r++) m[r * cols + c] = (m[r * cols + c] as number) / norm;
  }
}

/**
 * Eigendecomposition of a symmetric n x n matrix by cyclic Jacobi rotations.
 * Returns eigenvalues (descending) and eigenvectors as the columns of a row-major n x n matrix.
 */
export function symmetricEigen(
  a: Float64Array,
  n: number,
  sweeps = 60,
): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < sweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += (m[p * n + q] as number) ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q] as number;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = ((m[q * n + q] as number) - (m[p * n + p] as number)) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p] as number;
          const mkq = m[k * n + q] as number;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k] as number;
          const mqk = m[q * n + k] as number;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p] as number;
          const vkq = v[k * n + q] as number;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (x, y) => (m[y * n + y] as number) - (m[x * n + x] as number),
  );
  const values = Float64Array.from(order, (i) => m[i * n + i] as number);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) vectors[r * n + c] = v[r * n + (order[c] as number)] as number;
  return { values, vectors };
}
