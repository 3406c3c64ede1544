// The diagnostic lag grid (SPEC §10): `num_lags` integers evenly spaced from `lag_min` to `lag_max`.

/**
 * `numpy.linspace(lagMin, lagMax, numLags, dtype=int)`: the float64 points `i·step + lagMin` with
 * `step = (lagMax - lagMin)/(numLags - 1)`, the last point set to `lagMax`, then rounded down (numpy ≥ 1.20 floors,
 * older versions truncate; for the positive lags allowed here the two agree). The same IEEE operations in the same
 * order give the same integers as numpy.
 *
 * Lags must be whole numbers ≥ 1 (SPEC §5: a window has ℓ ≥ 1 steps). A grid with repeated lags (more lags asked for
 * than integers in the range) is refused: every lag would be measured twice and the tables keyed by lag would
 * collide. Whether lagMax fits the sequence length is checked where T is known (the window engine).
 */
export function lagGrid(lagMin: number, lagMax: number, numLags: number): number[] {
  for (const [name, value] of [['lag_min', lagMin], ['lag_max', lagMax], ['num_lags', numLags]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a whole number ≥ 1, got ${value}`);
    }
  }
  if (lagMax < lagMin) throw new RangeError(`lag_max (${lagMax}) must not be below lag_min (${lagMin})`);
  const span = lagMax - lagMin + 1;
  if (numLags > span) {
    throw new RangeError(
      `num_lags = ${numLags} asks for more lags than the ${span} integers from lag_min = ${lagMin} to lag_max = ${lagMax}; ` +
        `the grid would repeat lags. Use num_lags ≤ ${span} or widen the range.`,
    );
  }
  return linspaceFloor(lagMin, lagMax, numLags);
}

/** numpy.linspace(start, stop, num, endpoint=True) followed by the integer cast, for start ≤ stop. */
function linspaceFloor(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const delta = stop - start;
  const step = div > 0 ? delta / div : NaN;
  const points = Array.from({ length: num }, (_, i) => {
    if (div <= 0) return i * delta + start;
    // numpy divides first when the step underflows to 0; it never does for integer ranges, kept for fidelity.
    return (step === 0 ? (i / div) * delta : i * step) + start;
  });
  if (num > 1) points[num - 1] = stop;
  const grid = points.map(Math.floor);
  for (let i = 1; i < grid.length; i++) {
    if (grid[i] === grid[i - 1]) {
      throw new RangeError(
        `lag grid ${start}…${stop} with ${num} lags repeats lag ${grid[i]} (numpy.linspace rounds two points to it); ` +
          'use fewer lags or a wider range.',
      );
    }
  }
  return grid;
}
