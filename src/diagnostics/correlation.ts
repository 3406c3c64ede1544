// Rank and log-scale agreement between two envelopes over a lag grid (SPEC §6: the paper reports Spearman's ρ
// between f̂ and f_exact, and Pearson's r between their logs).
//
//   spearman(a, b)            Pearson correlation of the average ranks (ties share the mean of their ranks);
//                             every value must be finite.
//   logPearson(a, b)          Pearson correlation of (log a, log b) over the entries where both are finite and > 0;
//                             `used` counts them.
//   transportAgreement(fHat, fExact)
//                             both of the above over the lags where both envelopes are finite (a lag with no
//                             window is NaN), plus how many lags each used.
// A correlation that is undefined (fewer than 2 entries, or one side constant) is NaN, never 0.

/** 1-based ranks; tied values get the average of the ranks they span. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => values[i]! - values[j]!);
  const ranks = new Float64Array(n);
  let start = 0;
  while (start < n) {
    let end = start + 1;
    while (end < n && values[order[end]!] === values[order[start]!]) end++;
    const rank = (start + 1 + end) / 2; // mean of the 1-based ranks start+1 … end
    for (let k = start; k < end; k++) ranks[order[k]!] = rank;
    start = end;
  }
  return ranks;
}

/** Pearson's correlation coefficient; NaN with fewer than 2 entries or when either side has zero variance. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLengths(a, b, 'pearson');
  const n = a.length;
  if (n < 2) return NaN;
  let meanA = 0;
  let meanB = 0;
  for (let i = 0; i < n; i++) {
    meanA += a[i]!;
    meanB += b[i]!;
  }
  meanA /= n;
  meanB /= n;
  let cov = 0;
  let varA = 0;
  let varB = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - meanA;
    const db = b[i]! - meanB;
    cov += da * db;
    varA += da * da;
    varB += db * db;
  }
  if (varA === 0 || varB === 0) return NaN;
  // Rounding can push a perfect correlation a hair past ±1.
  return Math.max(-1, Math.min(1, cov / Math.sqrt(varA * varB)));
}

/** Spearman's rank correlation with average ranks for ties. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLengths(a, b, 'spearman');
  for (const [name, values] of [['a', a], ['b', b]] as const) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        throw new Error(`spearman: ${name}[${i}] = ${values[i]} is not finite; drop such entries first (transportAgreement does)`);
      }
    }
  }
  return pearson(averageRanks(a), averageRanks(b));
}

/** Pearson's r between log a and log b over the entries where both are finite and > 0. */
export function logPearson(a: ArrayLike<number>, b: ArrayLike<number>): { r: number; used: number } {
  checkLengths(a, b, 'logPearson');
  const logA: number[] = [];
  const logB: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x > 0 && y > 0 && Number.isFinite(x) && Number.isFinite(y)) {
      logA.push(Math.log(x));
      logB.push(Math.log(y));
    }
  }
  return { r: pearson(logA, logB), used: logA.length };
}

export interface TransportAgreement {
  /** Spearman's ρ(f̂, f_exact) over the lags where both are finite. */
  spearman: number;
  /** Pearson's r(log f̂, log f_exact) over the lags where both are finite and > 0. */
  logPearson: number;
  /** Lags the Spearman correlation used. */
  lagsUsed: number;
  /** Lags the log-Pearson correlation used. */
  logLagsUsed: number;
}

/** SPEC §6: agreement of the diagonal envelope f̂ (SPEC §5) with the exact envelope across the lag grid. */
export function transportAgreement(fHat: ArrayLike<number>, fExact: ArrayLike<number>): TransportAgreement {
  checkLengths(fHat, fExact, 'transportAgreement (f̂ and f_exact per lag)');
  const hat: number[] = [];
  const exact: number[] = [];
  for (let i = 0; i < fHat.length; i++) {
    if (Number.isFinite(fHat[i]!) && Number.isFinite(fExact[i]!)) {
      hat.push(fHat[i]!);
      exact.push(fExact[i]!);
    }
  }
  const logs = logPearson(hat, exact);
  return { spearman: spearman(hat, exact), logPearson: logs.r, lagsUsed: hat.length, logLagsUsed: logs.used };
}

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: the two series must have one value per lag each, got ${a.length} and ${b.length}`);
}
