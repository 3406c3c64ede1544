// Koutrouvelis' iterative regression for the symmetric α-stable law (SPEC §8, third bullet; Koutrouvelis 1980,
// JASA 75:918). The same line log(-log|φ̂(t)|²) = log 2 + α log σ + α log t as the ECF estimator, but on his grid
// t_k = πk/25 of standardised samples, weighted by the inverse asymptotic variance of each point, and repeated
// with the samples rescaled until the fitted scale is 1.
import { ecfModulusSquared } from './ecf.ts';
import { fitLine } from './regression.ts';

/** Koutrouvelis' Table 1 (optimal K), as reprinted by Borak, Härdle & Weron (2005); rows α, columns n = 200, 800, 1600. */
const POINTS_TABLE: readonly { alpha: number; points: readonly [number, number, number] }[] = [
  { alpha: 1.9, points: [9, 9, 10] },
  { alpha: 1.5, points: [11, 11, 11] },
  { alpha: 1.3, points: [22, 16, 14] },
  { alpha: 1.1, points: [24, 18, 15] },
  { alpha: 0.9, points: [28, 22, 18] },
  { alpha: 0.7, points: [30, 24, 20] },
  { alpha: 0.5, points: [86, 68, 56] },
  { alpha: 0.3, points: [134, 124, 118] },
];
const TABLE_SAMPLE_SIZES = [200, 800, 1600] as const;

/** K for the row: linear in log n between the table's sample sizes, held constant outside them. */
function pointsForRow(row: readonly [number, number, number], n: number): number {
  const logN = Math.log(Math.min(Math.max(n, TABLE_SAMPLE_SIZES[0]), TABLE_SAMPLE_SIZES[2]));
  const upper = logN <= Math.log(TABLE_SAMPLE_SIZES[1]) ? 1 : 2;
  const logLo = Math.log(TABLE_SAMPLE_SIZES[upper - 1]!);
  const fraction = (logN - logLo) / (Math.log(TABLE_SAMPLE_SIZES[upper]!) - logLo);
  return row[upper - 1]! + fraction * (row[upper]! - row[upper - 1]!);
}

/** Number of grid points K for tail index α and n samples (linear in α between table rows, clamped to its ends). */
export function koutrouvelisPoints(alpha: number, n: number): number {
  const rows = POINTS_TABLE;
  const a = Math.min(rows[0]!.alpha, Math.max(rows[rows.length - 1]!.alpha, alpha));
  let i = 0;
  while (i < rows.length - 2 && a < rows[i + 1]!.alpha) i++;
  const above = rows[i]!;
  const below = rows[i + 1]!;
  const fraction = (above.alpha - a) / (above.alpha - below.alpha);
  const k = pointsForRow(above.points, n) + fraction * (pointsForRow(below.points, n) - pointsForRow(above.points, n));
  return Math.round(k);
}

/**
 * n·Var(log(-log|φ̂(t)|²)) at σ = 1 by the delta method: |φ̂|² ≈ φ² + 2φ·δR with R the mean of cos(t(X-μ)),
 * Var(cos tX) = (1 + φ(2t))/2 - φ(t)², d/dg log(-log g) = 1/(g log g), φ(t) = e^{-t^α}:
 * Var = [(1 + e^{-(2t)^α})/2 - e^{-2t^α}] / (e^{-2t^α} t^{2α}).
 */
export function koutrouvelisPointVariance(t: number, alpha: number): number {
  const a = Math.min(2, alpha); // SPEC §8: clamp α ≤ 2 when forming the covariance
  const phiSquared = Math.exp(-2 * Math.pow(t, a));
  const cosineVariance = 0.5 * (1 + Math.exp(-Math.pow(2 * t, a))) - phiSquared;
  return cosineVariance / (phiSquared * Math.pow(t, 2 * a));
}

export interface KoutrouvelisEstimate {
  alpha: number;
  sigma: number;
  rounds: number;
  converged: boolean;
  pointsUsed: number;
}

const GRID_STEP = Math.PI / 25;
const MAX_ROUNDS = 10;
const TOLERANCE = 1e-4;

/** One weighted regression on samples already divided by `scale`; undefined with fewer than 3 usable points. */
function regressionRound(samples: ArrayLike<number>, scale: number, alpha: number) {
  const count = koutrouvelisPoints(alpha, samples.length);
  const scaled = Float64Array.from(samples, (v) => v / scale);
  const modulusSquared = ecfModulusSquared(scaled, GRID_STEP, GRID_STEP, count);
  const x: number[] = [];
  const y: number[] = [];
  const w: number[] = [];
  for (let k = 0; k < count; k++) {
    const g = modulusSquared[k]!;
    const t = GRID_STEP * (k + 1);
    const weight = 1 / koutrouvelisPointVariance(t, alpha);
    if (!(g > 0 && g < 1) || !(weight > 0 && Number.isFinite(weight))) continue;
    x.push(Math.log(t));
    y.push(Math.log(-Math.log(g)));
    w.push(weight);
  }
  if (x.length < 3) return undefined;
  const fit = fitLine(x, y, w);
  return { alpha: fit.slope, sigma: Math.pow(Math.exp(fit.intercept) / 2, 1 / fit.slope), pointsUsed: x.length };
}

/**
 * Iterates from a starting (α, σ) (McCulloch's): rescale by the running σ̂, regress, fold the fitted σ into
 * the scale, until the fitted σ is within 1e-4 of 1 and α̂ moved less than 1e-4 (at most 10 rounds).
 * α̂ is clamped to [1, 2] at the end, like the other two estimators. Undefined if the first round fails.
 */
export function koutrouvelisEstimate(samples: ArrayLike<number>, start: { alpha: number; sigma: number }): KoutrouvelisEstimate | undefined {
  if (!(start.sigma > 0)) return undefined;
  let alpha = start.alpha;
  let scale = start.sigma;
  let pointsUsed = 0;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const fit = regressionRound(samples, scale, alpha);
    if (!fit || !(fit.sigma > 0) || !(fit.alpha > 0) || !Number.isFinite(fit.alpha)) {
      return round === 1 ? undefined : { alpha: clampAlpha(alpha), sigma: scale, rounds: round - 1, converged: false, pointsUsed };
    }
    const settled = Math.abs(fit.sigma - 1) < TOLERANCE && Math.abs(fit.alpha - alpha) < TOLERANCE;
    alpha = fit.alpha;
    scale *= fit.sigma;
    pointsUsed = fit.pointsUsed;
    if (settled) return { alpha: clampAlpha(alpha), sigma: scale, rounds: round, converged: true, pointsUsed };
  }
  return { alpha: clampAlpha(alpha), sigma: scale, rounds: MAX_ROUNDS, converged: false, pointsUsed };
}

function clampAlpha(alpha: number): number {
  return Math.min(2, Math.max(1, alpha));
}
