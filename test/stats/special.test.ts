// Log-gamma, gamma, erfc and Gauss–Legendre rules against values that follow from their definitions.
import { describe, expect, it } from 'vitest';
import { erfc, gamma, logGamma } from '../../src/stats/special.ts';
import { gaussLegendre, integratePanel } from '../../src/stats/quadrature.ts';
import { expectClose } from './close.ts';

describe('gamma', () => {
  const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
  // Γ = exp(logΓ) inherits logΓ's absolute rounding as relative error: allow ~4 ulps of |logΓ| on top of 5e-15.
  it.each([1, 2, 5, 10, 20, 30, 60, 150])('Γ(%s) = (n-1)!', (n) => {
    const logFactorial = Math.log(factorial(n - 1));
    expectClose(`Γ(${n})`, gamma(n), factorial(n - 1), { rel: 5e-15 + 4.5e-16 * logFactorial });
    expectClose(`logΓ(${n})`, logGamma(n), Math.log(factorial(n - 1)), { abs: 1e-13, rel: 1e-15 });
  });
  // Γ(n + 1/2) = (2n)!/(4^n n!)·√π.
  it.each([0, 1, 2, 7, 40])('Γ(%s + 1/2) from the duplication identity', (n) => {
    const expected = (factorial(2 * n) / (4 ** n * factorial(n))) * Math.sqrt(Math.PI);
    expectClose(`Γ(${n}.5)`, gamma(n + 0.5), expected, { rel: 5e-15 });
  });
  it.each([0.01, 0.3, 0.77, 1.3, 4.6, 17.2])('Γ(x+1) = x·Γ(x) at x = %s', (x) => {
    expectClose(`Γ(${x}+1)/Γ(${x})`, Math.exp(logGamma(x + 1) - logGamma(x)), x, { rel: 5e-15 });
  });
  it('refuses x ≤ 0', () => {
    expect(() => logGamma(0)).toThrow(/x > 0/);
  });
});

describe('erfc', () => {
  // Values of erfc to 16 digits (Abramowitz & Stegun 7.1; they follow from the series and continued fraction alike).
  const table: [number, number][] = [
    [0, 1],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [1.5, 0.033894853524689274],
    [2, 0.004677734981047266],
    [3, 2.209049699858544e-5],
    [5, 1.5374597944280349e-12],
    [10, 2.088487583762545e-45],
  ];
  it.each(table)('erfc(%s)', (x, expected) => {
    expectClose(`erfc(${x})`, erfc(x), expected, { rel: 2e-15 });
    expectClose(`erfc(${-x})`, erfc(-x), 2 - expected, { rel: 2e-15 });
  });
  it('the series and the continued fraction meet at x = 1.5', () => {
    expectClose('erfc just below / above 1.5', erfc(1.5 - 1e-12), erfc(1.5), { rel: 1e-11 });
  });
});

describe('Gauss–Legendre rules', () => {
  it.each([2, 5, 20, 33])('%s points: weights sum to 2 and monomials up to degree 2n-1 integrate exactly', (n) => {
    const rule = gaussLegendre(n);
    expectClose(`Σw (n=${n})`, rule.weights.reduce((a, b) => a + b, 0), 2, { abs: 1e-14 });
    for (let degree = 0; degree <= 2 * n - 1; degree++) {
      const exact = degree % 2 === 1 ? 0 : 2 / (degree + 1);
      const got = integratePanel((t) => t ** degree, -1, 1, rule);
      expectClose(`∫t^${degree} on [-1,1] with ${n} points`, got, exact, { abs: 1e-14 });
    }
  });
  it('is exact for a cubic on any panel', () => {
    expectClose('∫_2^5 t³ dt', integratePanel((t) => t ** 3, 2, 5, gaussLegendre(2)), (5 ** 4 - 2 ** 4) / 4, { rel: 1e-15 });
  });
});
