// Seeded mini-batches (SPEC §3): permutations, batch ranges and gathering.
import { describe, expect, it } from 'vitest';
import { batchBuffers, batchRanges, epochPermutation, gatherBatch } from '../../src/data/batches.ts';
import type { SequenceData } from '../../src/data/dataset.ts';
import { Rng } from '../../src/util/random.ts';

describe('epochPermutation', () => {
  it.each([0, 1, 2, 7, 8000])('is a permutation of %i indices, repeatable with the seed', (count) => {
    const order = epochPermutation(count, new Rng(42));
    expect(Array.from(order).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(epochPermutation(count, new Rng(42))).toEqual(order);
  });
  it('differs between seeds and between epochs of one stream', () => {
    const rng = new Rng(1);
    const first = epochPermutation(100, rng);
    expect(epochPermutation(100, rng)).not.toEqual(first);
    expect(epochPermutation(100, new Rng(2))).not.toEqual(first);
  });
  it('draws all 120 orders of 5 equally often (χ² test)', () => {
    const rng = new Rng(7);
    const draws = 24_000;
    const counts = new Map<string, number>();
    for (let i = 0; i < draws; i++) {
      const key = epochPermutation(5, rng).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(120);
    const expected = draws / 120;
    let chi2 = 0;
    for (const c of counts.values()) chi2 += (c - expected) ** 2 / expected;
    // χ² with 119 degrees of freedom: mean 119, standard deviation √238 ≈ 15.4; bound at mean + 5 sd.
    expect(chi2, `χ² = ${chi2}`).toBeLessThan(119 + 5 * Math.sqrt(238));
  });
});

describe('batchRanges', () => {
  it.each([
    [8000, 512, 16, 320],
    [1024, 256, 4, 256],
    [10, 32, 1, 10],
    [1, 1, 1, 1],
    [7, 3, 3, 1],
  ])('%i sequences in batches of %i: %i batches, the last of %i (kept, as PyTorch drop_last=False)', (count, batch, batches, last) => {
    const ranges = batchRanges(count, batch);
    expect(ranges.length).toBe(batches);
    const covered = new Uint8Array(count);
    ranges.forEach(([start, end], i) => {
      expect(end - start, `batch ${i} size`).toBe(i === ranges.length - 1 ? last : batch);
      for (let p = start; p < end; p++) covered[p]!++;
    });
    expect(covered.every((c) => c === 1)).toBe(true);
  });
  it('gives no batches for no data and refuses a zero batch size', () => {
    expect(batchRanges(0, 4)).toEqual([]);
    expect(() => batchRanges(10, 0)).toThrow(/batch size must be a positive integer, got 0/);
  });
});

describe('gatherBatch', () => {
  const [N, T, D] = [6, 4, 3];
  /** x[n,t,d] = 100n + 10t + d and y[n,t] = -(100n + t): every value names its place. */
  const data: SequenceData = {
    x: Float32Array.from({ length: N * T * D }, (_, i) => 100 * Math.floor(i / (T * D)) + 10 * (Math.floor(i / D) % T) + (i % D)),
    y: Float32Array.from({ length: N * T }, (_, i) => -(100 * Math.floor(i / T) + (i % T))),
    count: N, steps: T, inputSize: D, source: 'test data',
  };
  const expectRows = (batch: ReturnType<typeof gatherBatch>, indices: number[]) => {
    expect(batch.count).toBe(indices.length);
    expect(batch.x.length).toBe(indices.length * T * D);
    indices.forEach((n, b) => {
      for (let t = 0; t < T; t++) {
        expect(batch.y[b * T + t], `y[${b}, ${t}] from sequence ${n}`).toBe(-(100 * n + t));
        for (let d = 0; d < D; d++) expect(batch.x[(b * T + t) * D + d], `x[${b}, ${t}, ${d}]`).toBe(100 * n + 10 * t + d);
      }
    });
  };

  it('copies the chosen sequences in the given order', () => {
    expectRows(gatherBatch(data, [4, 0, 5]), [4, 0, 5]);
    expectRows(gatherBatch(data, Uint32Array.from([2, 2])), [2, 2]);
  });
  it('reuses the buffers it is given, with views for a smaller last batch', () => {
    const buffers = batchBuffers(data, 4);
    const full = gatherBatch(data, [1, 3, 5, 0], buffers);
    expectRows(full, [1, 3, 5, 0]);
    expect(full.x.buffer).toBe(buffers.x.buffer);
    const last = gatherBatch(data, epochPermutation(N, new Rng(3)).subarray(4), buffers);
    expect(last.x.buffer).toBe(buffers.x.buffer);
    expect(last.count).toBe(2);
    expectRows(last, Array.from(epochPermutation(N, new Rng(3)).subarray(4)));
  });
  it('sizes its buffers for a K-output head\'s T·K targets per sequence', () => {
    const K = 3;
    const wide: SequenceData = { ...data, y: Float32Array.from({ length: N * T * K }, (_, i) => i) };
    const batch = gatherBatch(wide, [5, 2], batchBuffers(wide, 2));
    expect(Array.from(batch.y)).toEqual([...Array.from(wide.y.subarray(5 * T * K, 6 * T * K)), ...Array.from(wide.y.subarray(2 * T * K, 3 * T * K))]);
  });
  it('refuses buffers that are too small and indices out of range', () => {
    expect(() => gatherBatch(data, [0, 1, 2], batchBuffers(data, 2))).toThrow(/batch buffers hold 2 sequences of this data, the batch has 3/);
    expect(() => gatherBatch(data, [0, 6])).toThrow(/index 1 is 6, outside the 6 sequences of test data/);
  });
});
