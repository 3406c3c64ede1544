// Element-wise comparison against a float64 reference with per-element tolerances; reports the worst element.

/** Unit roundoff of f32 (round to nearest): 2^-24. */
export const F32_UNIT_ROUNDOFF = 2 ** -24;

export interface Mismatch {
  index: number;
  expected: number;
  got: number;
  tolerance: number;
}

export interface Comparison {
  ok: boolean;
  count: number;
  mismatches: number;
  /** The element with the largest |got - expected| / tolerance. */
  worst: Mismatch & { ratio: number };
  maxAbsError: number;
}

/** Compares `got` to `expected`; element i passes when |got - expected| ≤ tolerance(i). NaN passes only against NaN. */
export function compareToReference(got: ArrayLike<number>, expected: ArrayLike<number>, tolerance: (i: number) => number): Comparison {
  if (got.length !== expected.length) throw new Error(`length mismatch: got ${got.length} values, expected ${expected.length}`);
  let mismatches = 0;
  let maxAbsError = 0;
  let worst = { index: -1, expected: NaN, got: NaN, tolerance: NaN, ratio: 0 };
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const e = expected[i]!;
    const tol = tolerance(i);
    if (Number.isNaN(e) && Number.isNaN(g)) continue;
    const err = Math.abs(g - e);
    const ratio = Number.isNaN(err) ? Infinity : tol > 0 ? err / tol : err > 0 ? Infinity : 0;
    if (!(err <= tol)) mismatches++;
    if (Number.isFinite(err)) maxAbsError = Math.max(maxAbsError, err);
    if (ratio > worst.ratio || worst.index < 0) worst = { index: i, expected: e, got: g, tolerance: tol, ratio };
  }
  return { ok: mismatches === 0, count: got.length, mismatches, worst, maxAbsError };
}

export function describeComparison(what: string, c: Comparison): string {
  const w = c.worst;
  const head = c.ok ? `${what}: ${c.count} values match` : `${what}: ${c.mismatches} of ${c.count} values outside tolerance`;
  return `${head} (worst at index ${w.index}: expected ${w.expected}, got ${w.got}, tolerance ${w.tolerance.toExponential(2)}, error/tolerance ${w.ratio.toFixed(3)})`;
}
