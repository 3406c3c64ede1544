// Float64 reference of the segmented reduction, for tests and `lwin doctor`.

export interface ReduceReference {
  sums: Float64Array;
  means: Float64Array;
  /** Σ|x| per segment: the scale of the second-order error term of a compensated sum. */
  absSums: Float64Array;
}

/** Sums with Neumaier compensation in float64, so the reference itself is exact to ~1e-16 relative. */
export function segmentedReduceReference(x: ArrayLike<number>, segments: number, length: number): ReduceReference {
  const sums = new Float64Array(segments);
  const means = new Float64Array(segments);
  const absSums = new Float64Array(segments);
  for (let s = 0; s < segments; s++) {
    let sum = 0;
    let comp = 0;
    let abs = 0;
    for (let i = 0; i < length; i++) {
      const v = x[s * length + i]!;
      const t = sum + v;
      comp += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
      sum = t;
      abs += Math.abs(v);
    }
    sums[s] = sum + comp;
    means[s] = (sum + comp) / length;
    absSums[s] = abs;
  }
  return { sums, means, absSums };
}
