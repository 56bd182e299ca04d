/** Compressed sparse row matrices: the shape every trainer consumes. */

export interface Csr {
  rows: number;
  cols: number;
  /** row r spans indices[indptr[r] .. indptr[r+1]) */
  indptr: Int32Array;
  /** column index of each stored value, ascending within a row */
  indices: Int32Array;
  data: Float32Array;
}

/** Builds a CSR matrix from coordinates, summing duplicates. */
export function csrFromCoo(
  rows: number,
  cols: number,
  r: ArrayLike<number>,
  c: ArrayLike<number>,
  v: ArrayLike<number>,
  count = r.length,
): Csr {
  const rowCounts = new Int32Array(rows + 1);
  for (let i = 0; i < count; i++) {
    const at = (r[i] as number) + 1;
    rowCounts[at] = (rowCounts[at] as number) + 1;
  }
  for (let i = 0; i < rows; i++) rowCounts[i + 1] = (rowCounts[i + 1] as number) + (rowCounts[i] as number);
  const fill = rowCounts.slice();
  const ci = new Int32Array(count);
  const cv = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const row = r[i] as number;
    const at = fill[row] as number;
    ci[at] = c[i] as number;
    cv[at] = v[i] as number;
    fill[row] = at + 1;
  }
  // sort each row by column and merge duplicates
  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(count);
  const data = new Float32Array(count);
  let nnz = 0;
  for (let row = 0; row < rows; row++) {
    const a = rowCounts[row] as number;
    const b = rowCounts[row + 1] as number;
    const order = Array.from({ length: b - a }, (_, k) => a + k).sort((x, y) => (ci[x] as number) - (ci[y] as number));
    let prev = -1;
    for (const k of order) {
      const col = ci[k] as number;
      if (col === prev) {
        data[nnz - 1] = (data[nnz - 1] as number) + (cv[k] as number);
      } else {
        indices[nnz] = col;
        data[nnz] = cv[k] as number;
        nnz++;
        prev = col;
      }
    }
    indptr[row + 1] = nnz;
  }
  return { rows, cols, indptr, indices: indices.slice(0, nnz), data: data.slice(0, nnz) };
}

export function transpose(m: Csr): Csr {
  const counts = new Int32Array(m.cols + 1);
  for (let k = 0; k < m.indices.length; k++) {
    const at = (m.indices[k] as number) + 1;
    counts[at] = (counts[at] as number) + 1;
  }
  for (let c = 0; c < m.cols; c++) counts[c + 1] = (counts[c + 1] as number) + (counts[c] as number);
  const fill = counts.slice();
  const indices = new Int32Array(m.indices.length);
  const data = new Float32Array(m.indices.length);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.indptr[r] as number; k < (m.indptr[r + 1] as number); k++) {
      const c = m.indices[k] as number;
      const at = fill[c] as number;
      indices[at] = r;
      data[at] = m.data[k] as number;
      fill[c] = at + 1;
    }
  }
  return { rows: m.cols, cols: m.rows, indptr: counts, indices, data };
}

/** Column indices of row r (a view, no copy). */
export function rowIndices(m: Csr, r: number): Int32Array {
  return m.indices.subarray(m.indptr[r] as number, m.indptr[r + 1] as number);
}

export function rowData(m: Csr, r: number): Float32Array {
  return m.data.subarray(m.indptr[r] as number, m.indptr[r + 1] as number);
}

/** How many values each row stores. */
export function rowLengths(m: Csr): Int32Array {
  return Int32Array.from({ length: m.rows }, (_, r) => (m.indptr[r + 1] as number) - (m.indptr[r] as number));
}
