// Empirical characteristic function and the reference's weighted ECF regression (SPEC §8, second bullet).
// For the symmetric law, |φ(t)|² = exp(-2|σt|^α), so log(-log|φ̂(t)|²) = log(2σ^α) + α log t: a line in log t.
// |φ̂|² does not depend on location, so ψ's mean (the signal m̄) does not disturb α̂ or σ̂.
import { interquartileRange, standardDeviation } from './empirical.ts';

/**
 * |φ̂(t_j)|² = mean(cos t_j x)² + mean(sin t_j x)² on the arithmetic grid t_j = t0 + j·dt, j = 0 … count-1.
 * Each sample costs two pairs of trig calls, then one complex rotation by e^{i·dt·x} per grid point; the
 * rotation's rounding grows by about one ulp per step (≤ ~1e-14 over 50 points), far below sampling noise.
 */
export function ecfModulusSquared(samples: ArrayLike<number>, t0: number, dt: number, count: number): Float64Array {
  const sumCos = new Float64Array(count);
  const sumSin = new Float64Array(count);
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i]!;
    let c = Math.cos(t0 * x);
    let s = Math.sin(t0 * x);
    const stepCos = Math.cos(dt * x);
    const stepSin = Math.sin(dt * x);
    for (let j = 0; j < count; j++) {
      sumCos[j]! += c;
      sumSin[j]! += s;
      const nextC = c * stepCos - s * stepSin;
      s = s * stepCos + c * stepSin;
      c = nextC;
    }
  }
  const n = samples.length;
  const out = new Float64Array(count);
  for (let j = 0; j < count; j++) out[j] = (sumCos[j]! / n) ** 2 + (sumSin[j]! / n) ** 2;
  return out;
}

export const ECF_GRID_POINTS = 50;

/** The reference's grid: 50 points from 0.05/s to 3/s, s = IQR/1.349 (fallback 1.349·std; then 0.1 … 2). */
export function ecfGrid(sorted: ArrayLike<number>): { t0: number; dt: number; count: number } {
  let iqr = interquartileRange(sorted);
  if (iqr <= 1e-12) iqr = standardDeviation(sorted) * 1.349;
  const count = ECF_GRID_POINTS;
  if (iqr <= 1e-12) return { t0: 0.1, dt: (2 - 0.1) / (count - 1), count };
  const scale = iqr / 1.349;
  return { t0: 0.05 / scale, dt: (3 / scale - 0.05 / scale) / (count - 1), count };
}

/** Indices of usable grid points: 0.01 < |φ̂|² < 0.95 if at least 5, else 1e-4 < |φ̂|² < 0.999 if at least 3. */
export function ecfUsablePoints(modulusSquared: Float64Array): number[] | undefined {
  const pick = (lo: number, hi: number) => [...modulusSquared.keys()].filter((j) => modulusSquared[j]! > lo && modulusSquared[j]! < hi);
  const strict = pick(0.01, 0.95);
  if (strict.length >= 5) return strict;
  const relaxed = pick(1e-4, 0.999);
  return relaxed.length >= 3 ? relaxed : undefined;
}

export interface EcfRegression {
  alpha: number;
  sigma: number;
  /** Grid points that entered the regression. */
  pointsUsed: number;
}

/**
 * The reference's regression of Y = log(-log|φ̂|²) on X = log t with weights exp(-2(log|φ̂|² + 0.7)²)
 * (normalised, with its 1e-12 guards): α̂ = slope clamped to [1, 2], σ̂ = (e^{intercept}/2)^{1/α̂} with the
 * intercept of the unclamped line. Undefined when fewer than 3 usable points (the caller falls back to McCulloch).
 */
export function ecfEstimate(samples: ArrayLike<number>, sorted: ArrayLike<number>): EcfRegression | undefined {
  const grid = ecfGrid(sorted);
  const modulusSquared = ecfModulusSquared(samples, grid.t0, grid.dt, grid.count);
  const use = ecfUsablePoints(modulusSquared);
  if (!use) return undefined;
  const x = use.map((j) => Math.log(grid.t0 + j * grid.dt));
  const y = use.map((j) => Math.log(-Math.log(modulusSquared[j]!)));
  const rawWeights = use.map((j) => Math.exp(-2 * (Math.log(modulusSquared[j]!) + 0.7) ** 2));
  const weightSum = rawWeights.reduce((a, b) => a + b, 0) + 1e-12;
  const w = rawWeights.map((v) => v / weightSum);
  const totalWeight = w.reduce((a, b) => a + b, 0);
  const xBar = w.reduce((acc, wi, i) => acc + wi * x[i]!, 0) / totalWeight;
  const yBar = w.reduce((acc, wi, i) => acc + wi * y[i]!, 0) / totalWeight;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < use.length; i++) {
    sxy += w[i]! * (x[i]! - xBar) * (y[i]! - yBar);
    sxx += w[i]! * (x[i]! - xBar) ** 2;
  }
  const slope = sxy / (sxx + 1e-12);
  const intercept = yBar - slope * xBar;
  const alpha = Math.min(2, Math.max(1, slope));
  const sigma = Math.max(0, Math.pow(Math.exp(intercept) / 2, 1 / alpha));
  return { alpha, sigma, pointsUsed: use.length };
}
