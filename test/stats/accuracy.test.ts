// Estimator accuracy as the statistics issue states it: 100 000 Chambers–Mallows–Stuck samples per case, fixed seeds,
// |α̂ - α| ≤ 0.05 for ECF and Koutrouvelis, ≤ 0.1 for McCulloch, and σ̂ within 5% of σ, for every α and σ below.
import { describe, expect, it } from 'vitest';
import { estimateStable, type AlphaMethod } from '../../src/stats/estimate.ts';
import { sampleStable } from '../../src/stats/stable-random.ts';
import { Rng } from '../../src/util/random.ts';

const ALPHAS = [1.1, 1.3, 1.5, 1.7, 1.9, 2.0];
const SIGMAS = [0.01, 1, 100];
const BOUND: Record<AlphaMethod, number> = { ecf: 0.05, koutrouvelis: 0.05, mcculloch: 0.1 };

describe.each(ALPHAS.flatMap((alpha) => SIGMAS.map((sigma) => [alpha, sigma] as const)))('α = %s, σ = %s', (alpha, sigma) => {
  const samples = sampleStable(new Rng(Math.round(alpha * 1000 + sigma * 7)), alpha, sigma, 100_000);
  it.each(['ecf', 'koutrouvelis', 'mcculloch'] as const)('%s recovers α and σ', (method) => {
    const estimate = estimateStable(samples, method);
    expect(Math.abs(estimate.alpha - alpha), `α̂ = ${estimate.alpha} (bound ${BOUND[method]})`).toBeLessThanOrEqual(BOUND[method]);
    expect(Math.abs(estimate.sigma / sigma - 1), `σ̂ = ${estimate.sigma} for σ = ${sigma}`).toBeLessThanOrEqual(0.05);
    expect(estimate.alphaReliable, estimate.notes.join('; ')).toBe(true);
  });
});
