// Tolerance checks for the statistics tests that say what was expected, what came, and how far apart they were.
import { expect } from 'vitest';

/** |got - expected| ≤ abs + rel·|expected|. */
export function expectClose(what: string, got: number, expected: number, tolerance: { abs?: number; rel?: number }): void {
  const allowed = (tolerance.abs ?? 0) + (tolerance.rel ?? 0) * Math.abs(expected);
  const error = Math.abs(got - expected);
  const detail = `${what}: expected ${expected}, got ${got}, |error| ${error.toExponential(3)}, tolerance ${allowed.toExponential(3)}`;
  expect(error <= allowed, detail).toBe(true);
}
