// Chambers–Mallows–Stuck variates (SPEC §11) follow the law that stable.ts computes.
import { describe, expect, it } from 'vitest';
import { sampleStable } from '../../src/stats/stable-random.ts';
import { stableCdf } from '../../src/stats/stable.ts';
import { Rng } from '../../src/util/random.ts';

/** Kolmogorov–Smirnov distance between the sample and the law. */
function ksDistance(sample: Float64Array, cdf: (x: number) => number): number {
  const sorted = Float64Array.from(sample).sort();
  const n = sorted.length;
  let distance = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i]!);
    distance = Math.max(distance, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
  }
  return distance;
}

// The KS distance of n true draws exceeds 1.949/√n with probability 0.001 (Kolmogorov's limit law);
// the seeds are fixed, so a pass is reproducible and a failure means the sampler or the CDF is wrong.
const N = 4000;
const KS_CRITICAL = 1.949 / Math.sqrt(N);

describe('CMS variates', () => {
  it.each([
    [0.5, 1],
    [0.8, 2],
    [1, 1],
    [1.2, 0.5],
    [1.5, 1],
    [1.8, 3],
    [2, 1],
  ])('α = %s, σ = %s: Kolmogorov–Smirnov distance to the law is below the 0.1% critical value', (alpha, scale) => {
    const sample = sampleStable(new Rng(17 + Math.round(alpha * 100)), alpha, scale, N);
    const distance = ksDistance(sample, (x) => stableCdf(x, alpha, scale));
    expect(distance, `KS distance ${distance.toFixed(4)} vs critical ${KS_CRITICAL.toFixed(4)}`).toBeLessThan(KS_CRITICAL);
  });
  it('are reproducible from the seed and all finite', () => {
    const a = sampleStable(new Rng(5), 0.5, 1, 1000);
    const b = sampleStable(new Rng(5), 0.5, 1, 1000);
    expect(a).toEqual(b);
    expect(a.every(Number.isFinite)).toBe(true);
  });
  it('at α = 2 have variance 2σ²', () => {
    const sample = sampleStable(new Rng(99), 2, 1.5, 50000);
    const variance = sample.reduce((acc, x) => acc + x * x, 0) / sample.length;
    // The sample variance of n normal draws has relative standard error √(2/n) = 0.63%; allow 4 of them.
    expect(Math.abs(variance / (2 * 1.5 ** 2) - 1), `variance ${variance}, expected ${2 * 1.5 ** 2}`).toBeLessThan(4 * Math.sqrt(2 / 50000));
  });
});
