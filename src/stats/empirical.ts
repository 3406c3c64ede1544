// Sample summaries shared by the estimators of SPEC §8: finite filtering, sorting, quantiles, moments.

/** The finite values of `samples` as float64, in order (the reference drops NaN and ±∞ before estimating). */
export function finiteSamples(samples: ArrayLike<number>): Float64Array {
  let count = 0;
  for (let i = 0; i < samples.length; i++) if (Number.isFinite(samples[i]!)) count++;
  const out = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    const value = samples[i]!;
    if (Number.isFinite(value)) out[j++] = value;
  }
  return out;
}

/** An ascending float64 copy. */
export function sortedCopy(samples: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(samples);
  out.sort();
  return out;
}

/** The p-quantile of ascending data by linear interpolation between order statistics (numpy's default, "type 7"). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const position = p * (n - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, n - 1);
  const fraction = position - below;
  const low = sorted[below]!;
  return low + fraction * (sorted[above]! - low);
}

/** Interquartile range q75 - q25 of ascending data. */
export function interquartileRange(sorted: ArrayLike<number>): number {
  return quantileSorted(sorted, 0.75) - quantileSorted(sorted, 0.25);
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/** Population standard deviation (divides by n, as numpy.std). */
export function standardDeviation(values: ArrayLike<number>): number {
  const centre = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i]! - centre) ** 2;
  return Math.sqrt(sum / values.length);
}
