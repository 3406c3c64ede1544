// Monotone piecewise-cubic Hermite interpolation (Fritsch–Carlson, as scipy's PchipInterpolator), used to
// invert McCulloch's ν(α) curve (SPEC §8) without overshoot between grid points.

export interface MonotoneCubic {
  x: Float64Array;
  y: Float64Array;
  slopes: Float64Array;
}

/** Endpoint slope by the one-sided three-point formula, limited to keep monotonicity (scipy's rule). */
function endpointSlope(h0: number, h1: number, d0: number, d1: number): number {
  const slope = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
  if (Math.sign(slope) !== Math.sign(d0)) return 0;
  if (Math.sign(d0) !== Math.sign(d1) && Math.abs(slope) > Math.abs(3 * d0)) return 3 * d0;
  return slope;
}

/** Builds the interpolant through (x_i, y_i); x strictly increasing, at least 3 points. */
export function monotoneCubic(x: ArrayLike<number>, y: ArrayLike<number>): MonotoneCubic {
  const n = x.length;
  if (n < 3 || y.length !== n) throw new Error(`monotone interpolation needs ≥ 3 matching points, got ${n} x and ${y.length} y`);
  const xs = Float64Array.from(x);
  const ys = Float64Array.from(y);
  const h = new Float64Array(n - 1);
  const delta = new Float64Array(n - 1);
  for (let i = 0; i < n - 1; i++) {
    h[i] = xs[i + 1]! - xs[i]!;
    if (!(h[i]! > 0)) throw new Error(`monotone interpolation: x must increase strictly (x[${i}] = ${xs[i]}, x[${i + 1}] = ${xs[i + 1]})`);
    delta[i] = (ys[i + 1]! - ys[i]!) / h[i]!;
  }
  const slopes = new Float64Array(n);
  for (let i = 1; i < n - 1; i++) {
    const d0 = delta[i - 1]!;
    const d1 = delta[i]!;
    if (d0 * d1 <= 0) continue; // a local extremum keeps slope 0
    const w1 = 2 * h[i]! + h[i - 1]!;
    const w2 = h[i]! + 2 * h[i - 1]!;
    slopes[i] = (w1 + w2) / (w1 / d0 + w2 / d1); // weighted harmonic mean
  }
  slopes[0] = endpointSlope(h[0]!, h[1]!, delta[0]!, delta[1]!);
  slopes[n - 1] = endpointSlope(h[n - 2]!, h[n - 3]!, delta[n - 2]!, delta[n - 3]!);
  return { x: xs, y: ys, slopes };
}

/** Evaluates the interpolant; outside [x_0, x_{n-1}] it clamps to the end values. */
export function evaluateMonotoneCubic(curve: MonotoneCubic, at: number): number {
  const { x, y, slopes } = curve;
  const n = x.length;
  if (at <= x[0]!) return y[0]!;
  if (at >= x[n - 1]!) return y[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x[mid]! <= at) lo = mid;
    else hi = mid;
  }
  const width = x[hi]! - x[lo]!;
  const s = (at - x[lo]!) / width;
  const s2 = s * s;
  const s3 = s2 * s;
  const h00 = 2 * s3 - 3 * s2 + 1;
  const h10 = s3 - 2 * s2 + s;
  const h01 = -2 * s3 + 3 * s2;
  const h11 = s3 - s2;
  return h00 * y[lo]! + h10 * width * slopes[lo]! + h01 * y[hi]! + h11 * width * slopes[hi]!;
}
