// McCulloch's quantile estimator for the symmetric α-stable law (SPEC §8):
//   ν̂ = (q95 - q05)/(q75 - q25);  α̂ = ν^{-1}(ν̂) on [1, 2] (clamped);  σ̂ = (q75 - q25)/IQR_1(α̂).
// ν(α) and IQR_1(α) are computed from lwin's own quantiles (stable.ts) on a fine grid at first use and cached;
// the printed 1986 tables are 0.1–0.8% off (SPEC §11).
import { interquartileRange, quantileSorted } from './empirical.ts';
import { evaluateMonotoneCubic, monotoneCubic, type MonotoneCubic } from './interpolate.ts';
import { stableQuantile } from './stable.ts';

export const MCCULLOCH_ALPHA_MIN = 1;
export const MCCULLOCH_ALPHA_MAX = 2;
/** Grid spacing in α; the monotone cubic between grid points errs by < 3e-7 relative in ν, < 2e-7 in α (checked in test/stats). */
const GRID_STEP = 0.005;

export interface McCullochCurves {
  alpha: Float64Array;
  /** ν(α) = (x.95 - x.05)/(x.75 - x.25) = x.95/x.75 by symmetry. */
  nu: Float64Array;
  /** IQR at σ = 1: x.75 - x.25 = 2·x.75 (SPEC §11 calls it ν_c). */
  iqr: Float64Array;
}

interface McCullochTables {
  curves: McCullochCurves;
  nuOfAlpha: MonotoneCubic;
  alphaOfNu: MonotoneCubic;
  iqrOfAlpha: MonotoneCubic;
}

let tables: McCullochTables | undefined;

/** ν(α) and IQR_1(α) straight from the quantile function (no interpolation). */
export function mccullochPoint(alpha: number): { nu: number; iqr: number } {
  const upperQuartile = stableQuantile(0.75, alpha);
  return { nu: stableQuantile(0.95, alpha) / upperQuartile, iqr: 2 * upperQuartile };
}

function buildTables(): McCullochTables {
  const count = Math.round((MCCULLOCH_ALPHA_MAX - MCCULLOCH_ALPHA_MIN) / GRID_STEP) + 1;
  const alpha = new Float64Array(count);
  const nu = new Float64Array(count);
  const iqr = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    // Grid points as exact decimals (1.37, not 1 + 37·0.01), so α = 1.5 and 2 land on the closed forms and tests.
    alpha[i] = i === count - 1 ? MCCULLOCH_ALPHA_MAX : Number((MCCULLOCH_ALPHA_MIN + i * GRID_STEP).toFixed(10));
    const point = mccullochPoint(alpha[i]!);
    nu[i] = point.nu;
    iqr[i] = point.iqr;
  }
  // ν falls as α rises; the inverse needs increasing abscissae.
  const alphaOfNu = monotoneCubic(nu.slice().reverse(), alpha.slice().reverse());
  return { curves: { alpha, nu, iqr }, nuOfAlpha: monotoneCubic(alpha, nu), alphaOfNu, iqrOfAlpha: monotoneCubic(alpha, iqr) };
}

function getTables(): McCullochTables {
  tables ??= buildTables();
  return tables;
}

/** The cached grid (built on first call, ~0.1–0.5 s). */
export function mccullochCurves(): McCullochCurves {
  return getTables().curves;
}

/** ν(α) on [1, 2], interpolated. */
export function mccullochNu(alpha: number): number {
  return evaluateMonotoneCubic(getTables().nuOfAlpha, alpha);
}

/** IQR_1(α) = x.75 - x.25 at σ = 1 on [1, 2], interpolated. */
export function mccullochIqr(alpha: number): number {
  return evaluateMonotoneCubic(getTables().iqrOfAlpha, alpha);
}

/** α with ν(α) = ν, clamped to [1, 2] (ν above ν(1) gives 1, below ν(2) gives 2). */
export function alphaFromNu(nu: number): number {
  if (Number.isNaN(nu)) return NaN;
  return Math.min(MCCULLOCH_ALPHA_MAX, Math.max(MCCULLOCH_ALPHA_MIN, evaluateMonotoneCubic(getTables().alphaOfNu, nu)));
}

export interface McCullochEstimate {
  alpha: number;
  sigma: number;
  /** ν̂ from the sample quantiles. */
  nu: number;
  iqr: number;
}

/** McCulloch's symmetric estimate from ascending samples. */
export function mccullochFromSorted(sorted: ArrayLike<number>): McCullochEstimate {
  const iqr = interquartileRange(sorted);
  const spread = quantileSorted(sorted, 0.95) - quantileSorted(sorted, 0.05);
  const nu = spread / iqr;
  // A zero IQR says nothing about α; the reliability rules flag it (SPEC §8).
  const alpha = iqr > 0 ? alphaFromNu(nu) : MCCULLOCH_ALPHA_MAX;
  return { alpha, sigma: iqr > 0 ? iqr / mccullochIqr(alpha) : 0, nu, iqr };
}
