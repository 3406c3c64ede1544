// Tail-index estimators (SPEC §8) on Chambers–Mallows–Stuck samples, their pieces, and the reliability flag.
import { describe, expect, it } from 'vitest';
import { estimateStable, parseAlphaMethod, unreliabilityReasons, type AlphaMethod } from '../../src/stats/estimate.ts';
import { ecfGrid, ecfModulusSquared } from '../../src/stats/ecf.ts';
import { koutrouvelisPointVariance, koutrouvelisPoints } from '../../src/stats/koutrouvelis.ts';
import { sampleStable } from '../../src/stats/stable-random.ts';
import { sortedCopy } from '../../src/stats/empirical.ts';
import { Rng } from '../../src/util/random.ts';
import { expectClose } from './close.ts';

/**
 * Tolerances are 4 standard errors at n = 20000. The standard errors were measured over 40 seeds per case
 * (SD of α̂: McCulloch 0.012–0.026, largest at α = 1.8; ECF 0.011–0.015; Koutrouvelis 0.008–0.013; SD of σ̂/σ
 * ≤ 1.2% for all three); McCulloch's asymptotic SD, ≈ 1.6–3.6/√n over α ∈ [1.2, 1.8], agrees.
 */
const tolerances: Record<AlphaMethod, { alpha: number; sigmaRel: number }> = {
  mcculloch: { alpha: 0.1, sigmaRel: 0.05 },
  ecf: { alpha: 0.06, sigmaRel: 0.05 },
  koutrouvelis: { alpha: 0.06, sigmaRel: 0.05 },
};
const N = 20000;
const SCALE = 2.5;
const LOCATION = 3; // every estimator works on location-free quantities (quantile spreads, |φ̂|²)

const cases = (['mcculloch', 'ecf', 'koutrouvelis'] as const).flatMap((method) => [1.2, 1.5, 1.8, 2.0].map((alpha) => [method, alpha] as const));

describe('estimators recover α and σ from CMS samples (n = 20000, σ = 2.5, shifted by 3)', () => {
  it.each(cases)('%s at α = %s', (method, alpha) => {
    const samples = sampleStable(new Rng(7001 + Math.round(alpha * 10)), alpha, SCALE, N).map((x) => x + LOCATION);
    const estimate = estimateStable(samples, method);
    expect(estimate.methodUsed, estimate.notes.join('; ')).toBe(method);
    expectClose(`${method} α̂`, estimate.alpha, alpha, { abs: tolerances[method].alpha });
    expectClose(`${method} σ̂`, estimate.sigma, SCALE, { rel: tolerances[method].sigmaRel });
    expect(estimate.alphaReliable, estimate.notes.join('; ')).toBe(true);
    expect(estimate.nSamples).toBe(N);
  });
});

describe('ECF pieces', () => {
  it('the rotated grid equals direct cos/sin sums to 1e-13', () => {
    const samples = sampleStable(new Rng(3), 1.3, 4, 3000);
    const grid = ecfGrid(sortedCopy(samples));
    const rotated = ecfModulusSquared(samples, grid.t0, grid.dt, grid.count);
    for (let j = 0; j < grid.count; j += 7) {
      const t = grid.t0 + j * grid.dt;
      let c = 0;
      let s = 0;
      for (const x of samples) {
        c += Math.cos(t * x);
        s += Math.sin(t * x);
      }
      expectClose(`|φ̂(t_${j})|²`, rotated[j]!, (c / samples.length) ** 2 + (s / samples.length) ** 2, { abs: 1e-13 });
    }
  });
  it('the grid runs from 0.05/s to 3/s with s = IQR/1.349, in 50 points', () => {
    const sorted = Float64Array.from({ length: 101 }, (_, i) => i / 100); // IQR 0.5
    const grid = ecfGrid(sorted);
    const s = 0.5 / 1.349;
    expectClose('t_0', grid.t0, 0.05 / s, { rel: 1e-14 });
    expectClose('t_49', grid.t0 + 49 * grid.dt, 3 / s, { rel: 1e-14 });
    expect(grid.count).toBe(50);
  });
  it('falls back to McCulloch when no grid point is usable (constant samples), and flags the result', () => {
    const estimate = estimateStable(new Float64Array(1000).fill(4), 'ecf');
    expect(estimate.methodUsed).toBe('mcculloch');
    expect(estimate.alphaReliable).toBe(false);
    expect(estimate.notes.join('; ')).toMatch(/interquartile range 0 is at most 1e-10/);
  });
});

describe('Koutrouvelis pieces', () => {
  it.each([
    [1.9, 200, 9],
    [1.9, 1600, 10],
    [2.0, 800, 9],
    [1.5, 5000, 11],
    [1.3, 200, 22],
    [1.3, 1600, 14],
    [1.3, 200000, 14],
    [1.1, 800, 18],
    [0.9, 200, 28],
    [1.2, 200, 23],
  ])('K(α = %s, n = %s) = %s (his table; linear in α, log n between entries)', (alpha, n, expected) => {
    expect(koutrouvelisPoints(alpha, n)).toBe(expected);
  });
  // Monte Carlo variance over 300 samples of n = 2000: its relative standard error is √(2/299) ≈ 8%; allow 4.
  it.each([1.2, 1.5, 2])('α = %s: the delta-method variance of log(-log|φ̂|²) matches Monte Carlo', (alpha) => {
    const n = 2000;
    const replicates = 300;
    const dt = Math.PI / 25;
    const points = [1, 3, 6, 12];
    const values = points.map(() => [] as number[]);
    const rng = new Rng(31);
    for (let r = 0; r < replicates; r++) {
      const g = ecfModulusSquared(sampleStable(rng, alpha, 1, n), dt, dt, 12);
      points.forEach((k, i) => values[i]!.push(Math.log(-Math.log(g[k - 1]!))));
    }
    points.forEach((k, i) => {
      const v = values[i]!;
      const m = v.reduce((a, b) => a + b, 0) / replicates;
      const variance = v.reduce((a, b) => a + (b - m) ** 2, 0) / (replicates - 1);
      expectClose(`Var y at t = ${k}π/25`, variance, koutrouvelisPointVariance(k * dt, alpha) / n, { rel: 0.33 });
    });
  });
});

describe('reliability (SPEC §8)', () => {
  it('fewer than 500 samples give (α̂, σ̂) = (2, 0), unreliable', () => {
    const estimate = estimateStable(sampleStable(new Rng(1), 1.5, 1, 499), 'ecf');
    expect([estimate.alpha, estimate.sigma, estimate.alphaReliable]).toEqual([2, 0, false]);
    expect(estimate.notes[0]).toMatch(/only 499 samples/);
  });
  it('500 samples are enough when nothing else is wrong', () => {
    expect(estimateStable(sampleStable(new Rng(1), 1.5, 1, 500), 'mcculloch').alphaReliable).toBe(true);
  });
  it('non-finite samples are refused with a count of each kind', () => {
    const samples = [...sampleStable(new Rng(2), 1.5, 1, 600), NaN, Infinity, -Infinity, NaN];
    expect(() => estimateStable(samples, 'mcculloch')).toThrow(/4 of 604 samples are not finite \(2 NaN, 2 ±Infinity\)/);
  });
  it('non-finite samples are dropped before counting on request', () => {
    const samples = [...sampleStable(new Rng(2), 1.5, 1, 600), NaN, Infinity, -Infinity];
    const estimate = estimateStable(samples, 'mcculloch', { nonFinite: 'drop' });
    expect([estimate.nSamples, estimate.nonFinite]).toEqual([600, 3]);
  });
  it('constant samples are unreliable (IQR and σ̂ vanish), whatever the method', () => {
    for (const method of ['mcculloch', 'ecf', 'koutrouvelis'] as const) {
      const estimate = estimateStable(new Float64Array(5000).fill(0.25), method);
      expect(estimate.alphaReliable, `${method}: ${estimate.notes.join('; ')}`).toBe(false);
      expect(estimate.notes.join('; ')).toMatch(/interquartile range/);
    }
  });
  it.each([
    ['a healthy estimate', 1.5, 1, 1, 600, []],
    ['σ̂ at the floor', 1.5, 1e-12, 1, 5000, ['scale estimate']],
    ['a vanishing IQR', 1.5, 1, 1e-10, 5000, ['interquartile range']],
    ['α̂ within 0.01 of 1 with 1999 samples', 1.005, 1, 1, 1999, ['within 0.01 of its bound 1']],
    ['α̂ within 0.01 of 1 with 2000 samples', 1.005, 1, 1, 2000, []],
    ['α̂ within 0.01 of 2 with 800 samples', 1.995, 1, 1, 800, ['within 0.01 of its bound 2']],
    ['α̂ exactly 0.01 from a bound', 1.99, 1, 1, 800, []],
  ] as const)('%s', (_name, alpha, sigma, iqr, n, expected) => {
    const reasons = unreliabilityReasons(alpha, sigma, iqr, n);
    expect(reasons.length, reasons.join('; ')).toBe(expected.length);
    expected.forEach((fragment, i) => expect(reasons[i]).toContain(fragment));
  });
  it('method names are checked', () => {
    expect(parseAlphaMethod('ECF')).toBe('ecf');
    expect(() => parseAlphaMethod('hill')).toThrow(/unknown tail-index method 'hill': use one of mcculloch, ecf, koutrouvelis/);
  });
});
