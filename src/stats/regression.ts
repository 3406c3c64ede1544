// Straight-line least squares with optional weights, R² and Gaussian information criteria (SPEC §8, §9).

export interface LineFit {
  intercept: number;
  slope: number;
  /** Weighted coefficient of determination 1 - RSS/TSS (1 for a perfect fit, NaN when every y is equal). */
  r2: number;
  /** Weighted residual sum of squares. */
  rss: number;
  /** Number of points used. */
  n: number;
  /**
   * AIC and BIC of the Gaussian likelihood with the variance at its maximum RSS/n, counting the two line
   * parameters (statsmodels' OLS convention): AIC = n log(2π RSS/n) + n + 2·2, BIC = … + 2 log n.
   * RSS/n is floored at 1e-300 so an exact fit stays finite.
   */
  aic: number;
  bic: number;
}

function weightedMean(values: ArrayLike<number>, weights: ArrayLike<number> | undefined, totalWeight: number): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (weights ? weights[i]! : 1) * values[i]!;
  return sum / totalWeight;
}

/** Fits y = intercept + slope·x; needs ≥ 2 points with distinct x. */
export function fitLine(x: ArrayLike<number>, y: ArrayLike<number>, weights?: ArrayLike<number>): LineFit {
  const n = x.length;
  if (y.length !== n || (weights && weights.length !== n)) {
    throw new Error(`fitLine: x, y${weights ? ' and weights' : ''} must have equal lengths, got ${n}, ${y.length}${weights ? `, ${weights.length}` : ''}`);
  }
  if (n < 2) throw new Error(`fitLine: a line needs at least 2 points, got ${n}`);
  let totalWeight = 0;
  for (let i = 0; i < n; i++) totalWeight += weights ? weights[i]! : 1;
  const xBar = weightedMean(x, weights, totalWeight);
  const yBar = weightedMean(y, weights, totalWeight);
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i]! : 1;
    const dx = x[i]! - xBar;
    const dy = y[i]! - yBar;
    sxx += w * dx * dx;
    sxy += w * dx * dy;
    syy += w * dy * dy;
  }
  if (!(sxx > 0)) throw new Error(`fitLine: all ${n} x values are equal (${xBar}); a slope needs at least two distinct x`);
  const slope = sxy / sxx;
  const intercept = yBar - slope * xBar;
  let rss = 0;
  for (let i = 0; i < n; i++) rss += (weights ? weights[i]! : 1) * (y[i]! - intercept - slope * x[i]!) ** 2;
  const r2 = syy > 0 ? 1 - rss / syy : NaN;
  const logLikelihoodTerm = n * Math.log(2 * Math.PI * Math.max(rss / n, 1e-300)) + n;
  return { intercept, slope, r2, rss, n, aic: logLikelihoodTerm + 4, bic: logLikelihoodTerm + 2 * Math.log(n) };
}
