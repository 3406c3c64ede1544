// Batched matmul on the adapter against its float64 twin (tolerance: matmulTolerance, Higham's γ_k bound).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { checkMatmul } from '../../src/doctor/selftest.ts';
import { describeComparison } from '../../src/reference/compare.ts';
import type { MatmulShape, MatmulVariant } from '../../src/kernels/matmul.ts';

const gpu = useGpu();

const shapes: [string, MatmulShape][] = [
  ['one tile exactly', { batch: 1, m: 64, k: 16, n: 64 }],
  ['cell-sized, ragged edges', { batch: 3, m: 37, k: 20, n: 5 }],
  ['K not a multiple of the K tile', { batch: 2, m: 19, k: 13, n: 70 }],
  ['single row and column', { batch: 1, m: 1, k: 7, n: 1 }],
  ['many batches, multiple of the tile', { batch: 4, m: 32, k: 64, n: 128 }],
  ['long K', { batch: 1, m: 5, k: 1031, n: 3 }],
];
const variants: MatmulVariant[] = [
  { strategy: 'tiled', transposeB: false, bias: false },
  { strategy: 'tiled', transposeB: true, bias: true },
  { strategy: 'direct', transposeB: false, bias: true },
  { strategy: 'direct', transposeB: true, bias: false },
];

describe.each(shapes)('matmul, %s', (_name, shape) => {
  it.each(variants.map((v) => [`${v.strategy}${v.transposeB ? ' Bᵀ' : ''}${v.bias ? ' +bias' : ''}`, v] as const))(
    '%s matches float64',
    async (_label, variant) => {
      const check = await checkMatmul(gpu.ctx, shape, variant, shape.k * 31 + shape.n);
      expect(check.comparison.ok, describeComparison(`${check.kernel} ${check.shape}`, check.comparison)).toBe(true);
      expect(check.comparison.count).toBe(shape.batch * shape.m * shape.n);
    },
  );
});

describe('matmul pipeline cache', () => {
  it('compiles one pipeline per variant, whatever the sizes', async () => {
    const before = gpu.ctx.pipelines.size;
    const variant: MatmulVariant = { strategy: 'tiled', transposeB: false, bias: true };
    await checkMatmul(gpu.ctx, { batch: 1, m: 3, k: 4, n: 5 }, variant);
    await checkMatmul(gpu.ctx, { batch: 2, m: 9, k: 17, n: 33 }, variant);
    const added = gpu.ctx.pipelines.keys().filter((k) => k.startsWith('matmul[tiled,b,bias'));
    expect(added).toEqual(['matmul[tiled,b,bias]']);
    expect(gpu.ctx.pipelines.size - before).toBeLessThanOrEqual(1);
  });
});
