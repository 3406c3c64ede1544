// Scalar activations and the few vector operations the float64 cells use. Vectors are Float64Arrays;
// a weight W [rows, cols] is row-major, so W x has rows outputs.

/** σ(a), written so that neither branch overflows. */
export function sigmoid(a: number): number {
  if (a >= 0) return 1 / (1 + Math.exp(-a));
  const e = Math.exp(a);
  return e / (1 + e);
}

export function sigmoidVec(a: Float64Array): Float64Array {
  return a.map(sigmoid);
}

/** σ'(a) from s = σ(a): s(1-s), elementwise. */
export function sigmoidSlope(s: Float64Array): Float64Array {
  return s.map((v) => v * (1 - v));
}

/** tanh'(a) from t = tanh(a): 1 - t², elementwise. */
export function tanhSlope(t: Float64Array): Float64Array {
  return t.map((v) => 1 - v * v);
}

/** out += W x, W [out.length, x.length]. */
export function addMatVec(out: Float64Array, w: Float64Array, x: Float64Array): void {
  const rows = out.length;
  const cols = x.length;
  checkShape(w, rows, cols);
  for (let o = 0; o < rows; o++) {
    let sum = 0;
    for (let k = 0; k < cols; k++) sum += w[o * cols + k]! * x[k]!;
    out[o] = out[o]! + sum;
  }
}

/** out += Wᵀ v, W [v.length, out.length]. */
export function addMatTVec(out: Float64Array, w: Float64Array, v: Float64Array): void {
  const rows = v.length;
  const cols = out.length;
  checkShape(w, rows, cols);
  for (let o = 0; o < rows; o++) {
    const vo = v[o]!;
    for (let k = 0; k < cols; k++) out[k] = out[k]! + w[o * cols + k]! * vo;
  }
}

/** dW += a xᵀ, dW [a.length, x.length]. */
export function addOuter(dw: Float64Array, a: Float64Array, x: Float64Array): void {
  const rows = a.length;
  const cols = x.length;
  checkShape(dw, rows, cols);
  for (let o = 0; o < rows; o++) for (let k = 0; k < cols; k++) dw[o * cols + k] = dw[o * cols + k]! + a[o]! * x[k]!;
}

export function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** diag(W) of a square W [n, n]. */
export function diagonal(w: Float64Array, n: number): Float64Array {
  checkShape(w, n, n);
  const d = new Float64Array(n);
  for (let q = 0; q < n; q++) d[q] = w[q * n + q]!;
  return d;
}

function checkShape(w: Float64Array, rows: number, cols: number): void {
  if (w.length !== rows * cols) throw new Error(`weight has ${w.length} elements, expected ${rows}×${cols}`);
}
