// Host side of grid folding (WGSL side: `folded_row` in shaders/common.ts).

/** Splits `rows` workgroup rows into (y, z) with y ≤ maxPerDimension; the kernel skips rows past `rows`. */
export function foldRows(rows: number, maxPerDimension: number): [number, number] {
  if (rows <= maxPerDimension) return [rows, 1];
  const z = Math.ceil(rows / maxPerDimension);
  if (z > maxPerDimension) throw new RangeError(`grid of ${rows} workgroup rows exceeds ${maxPerDimension}² workgroups`);
  return [Math.ceil(rows / z), z];
}

/**
 * Workgroups (x, y) for an elementwise kernel over `count` items, `workgroupSize` per workgroup, when the x
 * dimension alone may not hold them all; the kernel computes i = id.y · nwg.x · size + id.x and skips i ≥ count.
 */
export function elementwiseGrid(count: number, workgroupSize: number, maxPerDimension: number): [number, number] {
  const groups = Math.ceil(count / workgroupSize);
  const x = Math.min(groups, maxPerDimension);
  return [x, Math.ceil(groups / x)];
}
