// Host side of grid folding (WGSL side: `folded_row` in shaders/common.ts).

/** Splits `rows` workgroup rows into (y, z) with y ≤ maxPerDimension; the kernel skips rows past `rows`. */
export function foldRows(rows: number, maxPerDimension: number): [number, number] {
  if (rows <= maxPerDimension) return [rows, 1];
  const z = Math.ceil(rows / maxPerDimension);
  if (z > maxPerDimension) throw new RangeError(`grid of ${rows} workgroup rows exceeds ${maxPerDimension}² workgroups`);
  return [Math.ceil(rows / z), z];
}
