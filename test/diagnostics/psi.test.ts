// ψ bookkeeping: exact sums, global orientation, exact-size uniform subsamples, across batches.
import { describe, expect, it } from 'vitest';
import { PsiAccumulator, studyDirection } from '../../src/diagnostics/psi.ts';
import { Rng } from '../../src/util/random.ts';
import { buildLayout } from '../../src/model/index.ts';

function batchOf(lags: number[], count: number, T: number, value: (l: number, b: number, t: number) => number): Float32Array {
  const psi = new Float32Array(lags.length * count * T);
  lags.forEach((ell, l) => {
    for (let b = 0; b < count; b++) for (let t = ell; t < T; t++) psi[(l * count + b) * T + t] = value(l, b, t);
  });
  return psi;
}

describe('PsiAccumulator', () => {
  const lags = [1, 4, 9];
  const T = 12;

  it('sums every sample exactly, orients each lag by the sign of its global mean, and counts samples', () => {
    const rng = new Rng(1);
    const values = new Map<string, number>();
    const value = (l: number, b: number, t: number) => {
      const v = Math.fround(rng.normal() + (l === 1 ? -0.5 : 0.25));
      values.set(`${l},${b},${t}`, v);
      return v;
    };
    const acc = new PsiAccumulator(lags, T, 7, { subsample: 10, seed: 3 });
    acc.add(batchOf(lags, 4, T, (l, b, t) => value(l, b, t)), 4);
    acc.add(batchOf(lags, 3, T, (l, b, t) => value(l, b + 4, t)), 3);
    const result = acc.finish();
    lags.forEach((ell, l) => {
      let sum = 0;
      let n = 0;
      for (const [key, v] of values) if (key.startsWith(`${l},`)) { sum += v; n++; }
      expect(result[l]!.count).toBe(7 * (T - ell));
      expect(n).toBe(result[l]!.count);
      expect(result[l]!.mean).toBeCloseTo(sum / n, 12);
      expect(result[l]!.mbar).toBe(Math.abs(result[l]!.mean));
    });
    expect(result[1]!.sign).toBe(-1); // the lag whose true mean is negative is flipped
    expect(result[0]!.sign).toBe(1);
    expect(result[2]!.sign).toBe(1);
    for (const lag of result) expect(lag.subsample.length).toBe(Math.min(10, lag.count));
  });

  it('keeps exactly k samples, each sample equally likely (uniform over positions), oriented', () => {
    const N = 40;
    const counts = new Float64Array(N * (T - 4));
    for (let trial = 0; trial < 400; trial++) {
      const acc = new PsiAccumulator([4], T, N, { subsample: 32, seed: trial });
      // Values are -(position + 1): the mean is negative, so the oriented subsample holds position + 1.
      acc.add(batchOf([4], N, T, (_l, b, t) => -(b * (T - 4) + (t - 4) + 1)), N);
      const lag = acc.finish()[0]!;
      expect(lag.subsample.length).toBe(32);
      for (const v of lag.subsample) counts[v - 1]!++;
    }
    // Each of the 320 positions is kept with probability 32/320 = 0.1: 40 expected in 400 trials, sd 6.
    const expected = 400 * 0.1;
    for (const c of counts) expect(Math.abs(c - expected)).toBeLessThan(5 * Math.sqrt(expected * 0.9));
  });

  it('refuses to finish with batches missing', () => {
    const acc = new PsiAccumulator([2], 6, 5, { seed: 1 });
    acc.add(batchOf([2], 3, 6, () => 1), 3);
    expect(() => acc.finish()).toThrow(/batch is missing/);
  });
});

describe('studyDirection', () => {
  it('is a unit Gaussian direction over the trainable parameters only, fixed by w_seed', () => {
    const layout = buildLayout({ cell: 'const', inputSize: 3, hiddenSize: 5, layernorm: true });
    const w = studyDirection(layout, 212);
    let norm2 = 0;
    const trainable = new Uint8Array(layout.totalSize);
    for (const t of layout.tensors) if (t.trainable) trainable.fill(1, t.offset, t.offset + t.size);
    w.forEach((v, i) => {
      if (!trainable[i]) expect(v).toBe(0);
      norm2 += v * v;
    });
    expect(norm2).toBeCloseTo(1, 6);
    expect([...studyDirection(layout, 212)]).toEqual([...w]);
    expect([...studyDirection(layout, 213)]).not.toEqual([...w]);
  });
});
