// Small dense float64 linear algebra for initialisation and tests: Householder QR and the (semi-)orthogonal
// factor that torch.nn.init.orthogonal_ takes from it. Matrices are row-major Float64Arrays.

export interface QrFactors {
  /** [rows, cols], orthonormal columns (reduced Q). */
  q: Float64Array;
  /** [cols, cols], upper triangular, A = Q R. */
  r: Float64Array;
}

export function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

/** C = A B with A [m,k], B [k,n]. */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p]!;
      for (let j = 0; j < n; j++) c[i * n + j] = c[i * n + j]! + aip * b[p * n + j]!;
    }
  }
  return c;
}

/**
 * Reduced QR of a tall matrix A [rows, cols] (rows ≥ cols) by Householder reflections.
 * The reflector for column k maps x = A[k:, k] to α e₁ with α = -sign(x₀)‖x‖ (no cancellation in x₀ - α),
 * so R's diagonal may be negative, as LAPACK's geqrf leaves it; `semiOrthogonal` applies the sign fix.
 */
export function householderQr(a: Float64Array, rows: number, cols: number): QrFactors {
  if (rows < cols) throw new Error(`householderQr needs rows ≥ cols, got [${rows},${cols}]; factor the transpose`);
  if (a.length !== rows * cols) throw new Error(`matrix has ${a.length} elements, expected ${rows}×${cols}`);
  const work = Float64Array.from(a);
  const reflectors: (Float64Array | null)[] = [];
  for (let k = 0; k < cols; k++) {
    const v = new Float64Array(rows - k);
    let norm2 = 0;
    for (let i = k; i < rows; i++) {
      v[i - k] = work[i * cols + k]!;
      norm2 += v[i - k]! ** 2;
    }
    const alpha = v[0]! >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    v[0] = v[0]! - alpha;
    const vNorm2 = v.reduce((s, x) => s + x * x, 0);
    if (vNorm2 === 0) {
      reflectors.push(null); // column already zero below and on the diagonal: nothing to reflect
      continue;
    }
    applyReflector(work, cols, k, v, vNorm2, k, cols);
    reflectors.push(v);
  }
  // Q = H₀ H₁ … H_{n-1} applied to the first `cols` columns of the identity.
  const q = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) q[j * cols + j] = 1;
  for (let k = cols - 1; k >= 0; k--) {
    const v = reflectors[k];
    if (v) applyReflector(q, cols, k, v, v.reduce((s, x) => s + x * x, 0), 0, cols);
  }
  const r = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) for (let j = i; j < cols; j++) r[i * cols + j] = work[i * cols + j]!;
  return { q, r };
}

/** M[k:, j0:j1] -= (2 / vᵀv) v (vᵀ M[k:, j0:j1]) for a row-major M with `cols` columns. */
function applyReflector(m: Float64Array, cols: number, k: number, v: Float64Array, vNorm2: number, j0: number, j1: number): void {
  for (let j = j0; j < j1; j++) {
    let dot = 0;
    for (let i = 0; i < v.length; i++) dot += v[i]! * m[(k + i) * cols + j]!;
    const scale = (2 * dot) / vNorm2;
    if (scale === 0) continue;
    for (let i = 0; i < v.length; i++) m[(k + i) * cols + j] = m[(k + i) * cols + j]! - scale * v[i]!;
  }
}

/**
 * The (semi-)orthogonal matrix torch.nn.init.orthogonal_ makes from a Gaussian matrix G [rows, cols]:
 * factor G (or Gᵀ when rows < cols) as QR, multiply Q's columns by d = sign(diag R), transpose back if needed.
 * The result has orthonormal columns (rows ≥ cols: QᵀQ = I) or orthonormal rows (rows < cols: QQᵀ = I).
 * One deliberate difference: torch's sign(0) = 0 would zero a column; here sign(0) = +1 (a probability-zero event).
 */
export function semiOrthogonal(gaussian: Float64Array, rows: number, cols: number): Float64Array {
  const tall = rows >= cols;
  const [m, n] = tall ? [rows, cols] : [cols, rows];
  const { q, r } = householderQr(tall ? gaussian : transpose(gaussian, rows, cols), m, n);
  for (let j = 0; j < n; j++) {
    if (r[j * n + j]! < 0) for (let i = 0; i < m; i++) q[i * n + j] = -q[i * n + j]!;
  }
  return tall ? q : transpose(q, m, n);
}
