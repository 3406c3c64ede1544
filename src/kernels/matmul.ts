// Host wrapper of the batched matrix multiply (shaders/matmul.ts).
import type { Step } from '../gpu/step.ts';
import { MATMUL_TILE, matmulProgram, matmulVariantKey, type MatmulVariant } from '../../shaders/matmul.ts';

export type { MatmulVariant };

export interface MatmulShape {
  batch: number;
  m: number;
  k: number;
  n: number;
}

export interface MatmulBuffers {
  /** [batch, m, k] row-major. */
  a: GPUBuffer;
  /** [k, n], or [n, k] with `transposeB`. */
  b: GPUBuffer;
  /** [n], when the variant has a bias. */
  bias?: GPUBuffer;
  /** [batch, m, n] output. */
  c: GPUBuffer;
}

/** Records C[b] = A[b]·B (+ bias) into `step`. */
export function recordMatmul(step: Step, shape: MatmulShape, buffers: MatmulBuffers, variant: MatmulVariant): void {
  if (variant.bias !== Boolean(buffers.bias)) {
    throw new Error(`matmul variant ${matmulVariantKey(variant)} ${variant.bias ? 'needs' : 'takes no'} bias buffer`);
  }
  const rows = shape.batch * shape.m;
  if (rows === 0 || shape.n === 0) return;
  const rowTiles = Math.ceil(rows / MATMUL_TILE);
  step.run(matmulProgram(variant), { a: buffers.a, b: buffers.b, bias: buffers.bias, c: buffers.c }, { rows, k: shape.k, n: shape.n, rowTiles });
}
