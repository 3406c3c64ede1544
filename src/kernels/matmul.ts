// Host wrapper of the batched matrix multiply (shaders/matmul.ts).
import type { Step } from '../gpu/step.ts';
import { kernelProgram, type KernelProgram } from '../gpu/pipelines.ts';
import { MATMUL_TILE, MatmulParams, matmulShader, matmulVariantKey, type MatmulVariant } from '../../shaders/matmul.ts';
import { foldRows } from './grid.ts';

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

export function matmulProgram(variant: MatmulVariant): KernelProgram {
  return kernelProgram('matmul', matmulVariantKey(variant), () => matmulShader(variant));
}

export const DEFAULT_MATMUL: MatmulVariant = { transposeB: false, bias: false, strategy: 'tiled' };

/** Records C[b] = A[b]·B (+ bias) into `step`. */
export function recordMatmul(step: Step, shape: MatmulShape, buffers: MatmulBuffers, variant: MatmulVariant): void {
  if (variant.bias !== Boolean(buffers.bias)) {
    throw new Error(`matmul variant ${matmulVariantKey(variant)} ${variant.bias ? 'needs' : 'takes no'} bias buffer`);
  }
  const rows = shape.batch * shape.m;
  if (rows === 0 || shape.n === 0) return;
  const rowTiles = Math.ceil(rows / MATMUL_TILE);
  const params = step.uniform('matmul/params', MatmulParams, { rows, k: shape.k, n: shape.n, rowTiles });
  const [y, z] = foldRows(rowTiles, step.maxWorkgroupsPerDimension);
  const bindings = [buffers.a, buffers.b, ...(buffers.bias ? [buffers.bias] : []), buffers.c, params];
  step.dispatch(matmulProgram(variant), bindings, [Math.ceil(shape.n / MATMUL_TILE), y, z]);
}
