// Float64 reference of the batched matrix multiply, for tests and `lwin doctor`.
import type { MatmulShape } from '../kernels/matmul.ts';

type Vec = ArrayLike<number>;

export interface MatmulReference {
  /** C in float64, [batch, m, n]. */
  c: Float64Array;
  /** Σ_k |a_ik||b_kj| (+ |bias_j|) per element: the scale that bounds f32 rounding error. */
  magnitude: Float64Array;
}

export function matmulReference(shape: MatmulShape, a: Vec, b: Vec, options: { transposeB: boolean; bias?: Vec }): MatmulReference {
  const { batch, m, k, n } = shape;
  const rows = batch * m;
  const c = new Float64Array(rows * n);
  const magnitude = new Float64Array(rows * n);
  const bAt = options.transposeB ? (kk: number, j: number) => b[j * k + kk]! : (kk: number, j: number) => b[kk * n + j]!;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let sum = options.bias ? options.bias[j]! : 0;
      let mag = Math.abs(sum);
      for (let kk = 0; kk < k; kk++) {
        const p = a[r * k + kk]! * bAt(kk, j);
        sum += p;
        mag += Math.abs(p);
      }
      c[r * n + j] = sum;
      magnitude[r * n + j] = mag;
    }
  }
  return { c, magnitude };
}
