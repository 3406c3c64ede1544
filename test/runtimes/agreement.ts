// Checks another runtime's matmul result in Node: against the float64 reference computed here from the same seed,
// and against Node's own GPU result. Shared by the Deno and browser tests.
import { expect } from 'vitest';
import { matmulInputs, matmulTolerance } from '../../src/doctor/selftest.ts';
import { matmulReference } from '../../src/reference/matmul.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import type { SmokeRequest, SmokeResult } from '../../src/doctor/smoke.ts';
import { formatShape } from '../../src/doctor/smoke.ts';

export interface RuntimeCase extends SmokeRequest {
  name: string;
}

/** The brief's edge shape (nothing a multiple of the 64 tile, K below the 16-deep K tile), plus a second variant. */
export const RUNTIME_CASES: RuntimeCase[] = [
  { name: 'tiled, B·A', shape: { batch: 2, m: 19, k: 13, n: 70 }, seed: 1, variant: { strategy: 'tiled', transposeB: false, bias: false } },
  { name: 'direct, Bᵀ +bias', shape: { batch: 3, m: 37, k: 20, n: 70 }, seed: 7, variant: { strategy: 'direct', transposeB: true, bias: true } },
];

/** Command-line / query-string options that ask a runtime for `request` (the syntax parseSmokeRequest reads). */
export function requestOptions(request: SmokeRequest): Record<string, string> {
  return {
    shape: formatShape(request.shape),
    seed: String(request.seed),
    strategy: request.variant.strategy,
    transposeB: String(request.variant.transposeB),
    bias: String(request.variant.bias),
  };
}

export function referenceFor(request: SmokeRequest) {
  const { a, b, bias } = matmulInputs(request.shape, request.seed, request.variant.bias);
  const ref = matmulReference(request.shape, a, b, { transposeB: request.variant.transposeB, bias });
  return { ...ref, tolerance: (i: number) => matmulTolerance(request.shape.k, ref.magnitude[i]!) };
}

/** The result describes the request, and its summary fields agree with its values. */
export function expectDescribes(result: SmokeResult, request: SmokeRequest, runtime: SmokeResult['runtime']): number[] {
  expect(result.runtime).toBe(runtime);
  expect(result.shape).toEqual(request.shape);
  expect(result.seed).toBe(request.seed);
  expect(result.variant).toEqual(request.variant);
  const count = request.shape.batch * request.shape.m * request.shape.n;
  expect(result.count).toBe(count);
  const values = result.values;
  if (!values) throw new Error(`${runtime}: the result lists no values (count ${result.count}); the test shapes are small enough to list`);
  expect(values).toHaveLength(count);
  expect(values.every(Number.isFinite), `${runtime}: every value finite`).toBe(true);
  for (const sample of result.samples) expect(values[sample.index], `${runtime}: sample at ${sample.index}`).toBe(sample.value);
  expect(result.checksum.sum).toBeCloseTo(values.reduce((s, v) => s + v, 0), 9);
  return values;
}

/** Element-wise |got - reference| ≤ matmulTolerance(k, Σ|a||b|), and the runtime's own verdict agrees. */
export function expectMatchesReference(what: string, values: ArrayLike<number>, result: SmokeResult, request: SmokeRequest): void {
  const ref = referenceFor(request);
  const comparison = compareToReference(values, ref.c, ref.tolerance);
  expect(comparison.ok, describeComparison(`${what} vs float64 reference`, comparison)).toBe(true);
  expect(result.ok, `${what} judged its own result: ${describeComparison(what, result)}`).toBe(true);
  expect(result.maxAbsError).toBeCloseTo(comparison.maxAbsError, 12);
}

/**
 * Element-wise |got - node| ≤ matmulTolerance(k, Σ|a||b|). Each side is within that bound of the exact value, so
 * 2× would be the provable bound; the same WGSL fixes the summation order, leaving only fma contraction and
 * rounding-mode details to differ, far below one tolerance. Returns how many values are bit-identical.
 */
export function expectMatchesNode(what: string, values: ArrayLike<number>, nodeValues: Float32Array, request: SmokeRequest): number {
  const ref = referenceFor(request);
  const comparison = compareToReference(values, nodeValues, ref.tolerance);
  expect(comparison.ok, describeComparison(`${what} vs Node's GPU`, comparison)).toBe(true);
  let identical = 0;
  for (let i = 0; i < nodeValues.length; i++) if (values[i] === nodeValues[i]) identical++;
  return identical;
}
