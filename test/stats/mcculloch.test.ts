// McCulloch's curves ν(α), IQR_1(α) (SPEC §8) against SPEC §11, and their interpolation and inversion.
import { describe, expect, it } from 'vitest';
import { alphaFromNu, mccullochCurves, mccullochFromSorted, mccullochIqr, mccullochNu, mccullochPoint } from '../../src/stats/mcculloch.ts';
import { expectClose } from './close.ts';

// SPEC §11 prints ν and ν_c to 8 significant digits: allow half a unit in the last place.
const table: [alpha: number, nu: number, nuC: number][] = [
  [1.0, 6.3137515, 2],
  [1.5, 3.1497951, 1.9378664],
  [2.0, 2.4386636, 1.9077451],
];

describe('McCulloch curves', () => {
  it.each(table)('α = %s: ν(α) and ν_c(α) = IQR_1(α) as SPEC §11 prints them', (alpha, nu, nuC) => {
    expectClose(`ν(${alpha}) direct`, mccullochPoint(alpha).nu, nu, { abs: 5e-8 });
    expectClose(`ν(${alpha}) interpolated`, mccullochNu(alpha), nu, { abs: 5e-8 });
    expectClose(`ν_c(${alpha})`, mccullochIqr(alpha), nuC, { abs: 5e-8 });
  });
  it('the grid is monotone: ν falls and α(ν) rises', () => {
    const { alpha, nu } = mccullochCurves();
    expect(alpha[0]).toBe(1);
    expect(alpha[alpha.length - 1]).toBe(2);
    for (let i = 1; i < nu.length; i++) expect(nu[i]! < nu[i - 1]!, `ν(${alpha[i]}) = ${nu[i]} after ν(${alpha[i - 1]}) = ${nu[i - 1]}`).toBe(true);
  });
  // Between grid points (spacing 0.005) the monotone cubic errs by < 3e-7 relative in ν, most near α = 1.
  it.each([1.0013, 1.0537, 1.2222, 1.4444, 1.7071, 1.9012, 1.9977])('between grid points, α = %s', (alpha) => {
    const exact = mccullochPoint(alpha);
    expectClose(`ν(${alpha})`, mccullochNu(alpha), exact.nu, { rel: 3e-7 });
    expectClose(`IQR_1(${alpha})`, mccullochIqr(alpha), exact.iqr, { rel: 3e-8 });
    expectClose(`α(ν(${alpha}))`, alphaFromNu(exact.nu), alpha, { abs: 2e-7 });
  });
  it('inversion clamps to [1, 2]', () => {
    expect(alphaFromNu(50)).toBe(1);
    expect(alphaFromNu(2.0)).toBe(2);
    expect(Number.isNaN(alphaFromNu(NaN))).toBe(true);
  });
});

describe('McCulloch estimate from exact quantiles', () => {
  // Samples placed so the type-7 quantiles q05, q25, q75, q95 are exactly the law's quantiles at σ = 2.
  it.each([1.1, 1.5, 1.9])('recovers α = %s and σ = 2', (alpha) => {
    const x75 = 2 * (mccullochIqr(alpha) / 2);
    const x95 = x75 * mccullochNu(alpha);
    // 21 ascending points, piecewise linear between anchors; positions p·20 = 1, 5, 15, 19 are the quantiles.
    const anchors: [number, number][] = [[0, -x95 - 1], [1, -x95], [5, -x75], [15, x75], [19, x95], [20, x95 + 1]];
    const sorted = Float64Array.from({ length: 21 }, (_, i) => {
      const k = anchors.findIndex(([position]) => position >= i);
      const [p1, v1] = anchors[k]!;
      if (p1 === i) return v1;
      const [p0, v0] = anchors[k - 1]!;
      return v0 + ((i - p0) / (p1 - p0)) * (v1 - v0);
    });
    const estimate = mccullochFromSorted(sorted);
    expectClose(`α̂`, estimate.alpha, alpha, { abs: 2e-7 });
    expectClose(`σ̂`, estimate.sigma, 2, { rel: 1e-7 });
  });
});
