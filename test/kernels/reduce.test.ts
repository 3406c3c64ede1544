// Segmented compensated reduction against its float64 twin (tolerance: compensatedSumTolerance, derived there).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { cancellingData, checkSegmentedReduce, compensatedSumTolerance } from '../../src/doctor/selftest.ts';
import { describeComparison } from '../../src/reference/compare.ts';
import { segmentedReduceReference } from '../../src/reference/reduce.ts';
import { REDUCE_CHUNK } from '../../src/kernels/reduce.ts';
import { Rng } from '../../src/util/random.ts';

const gpu = useGpu();

function gaussian(segments: number, length: number, seed: number, mean = 0): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: segments * length }, () => mean + rng.normal());
}

const cases: [string, number, number, (s: number, l: number) => Float32Array][] = [
  ['short segments, length below the workgroup', 7, 37, (s, l) => gaussian(s, l, 1)],
  ['length exactly one chunk', 3, REDUCE_CHUNK, (s, l) => gaussian(s, l, 2, 3)],
  ['length one past a chunk (two passes)', 2, REDUCE_CHUNK + 1, (s, l) => gaussian(s, l, 3)],
  ['cancelling large values', 5, 10_007, (s, l) => cancellingData(s, l, 4)],
  ['three passes', 1, REDUCE_CHUNK * REDUCE_CHUNK + 5, (s, l) => cancellingData(s, l, 5)],
  ['many segments, one element each', 70_000, 1, (s, l) => gaussian(s, l, 6)],
  ['segments sharing a workgroup, last group partial', 33, 100, (s, l) => gaussian(s, l, 7, -2)],
  ['lane count not dividing the length', 9, 1000, (s, l) => cancellingData(s, l, 8)],
];

describe.each(cases)('segmented reduce, %s', (_name, segments, length, make) => {
  it(`sums and means of ${segments}×${length} match float64`, async () => {
    const x = make(segments, length);
    const { sums, means } = await checkSegmentedReduce(gpu.ctx, x, segments, length);
    expect(sums.comparison.ok, describeComparison('sums', sums.comparison)).toBe(true);
    expect(means.comparison.ok, describeComparison('means', means.comparison)).toBe(true);
  });
});

describe('compensation', () => {
  it('a plain f32 sum fails the tolerance the GPU meets (so the tolerance has teeth)', async () => {
    const segments = 4;
    const length = 10_007;
    const x = cancellingData(segments, length, 9);
    const ref = segmentedReduceReference(x, segments, length);
    const { sums } = await checkSegmentedReduce(gpu.ctx, x, segments, length);
    expect(sums.comparison.ok, describeComparison('gpu sums', sums.comparison)).toBe(true);
    for (let s = 0; s < segments; s++) {
      let naive = 0;
      for (let i = 0; i < length; i++) naive = Math.fround(naive + x[s * length + i]!);
      const tolerance = compensatedSumTolerance(length, ref.sums[s]!, ref.absSums[s]!);
      expect(Math.abs(naive - ref.sums[s]!), `segment ${s}: naive f32 error vs tolerance ${tolerance}`).toBeGreaterThan(tolerance);
    }
  });

  it('an empty segment sums to 0 with mean NaN', async () => {
    const { sums, means } = await checkSegmentedReduce(gpu.ctx, new Float32Array(0), 3, 0);
    expect([...sums.values]).toEqual([0, 0, 0]);
    expect(means.values.every(Number.isNaN)).toBe(true);
  });
});
