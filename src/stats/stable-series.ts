// Tail series of the standard symmetric α-stable law (SPEC §11), x > 0:
//   1 - F(x) = (1/π) Σ_{k≥1} (-1)^{k+1} Γ(αk)/k!   sin(πkα/2) x^{-αk}
//   f(x)     = (1/π) Σ_{k≥1} (-1)^{k+1} Γ(αk+1)/k! sin(πkα/2) x^{-αk-1}
// For α < 1 the series converges for every x; for α > 1 it is asymptotic (its terms shrink, then grow).
// Either way it is used only where it converges to full precision without cancellation; the caller falls back
// to the Gil-Pelaez integral otherwise.
import { logGamma } from './special.ts';

export type TailKind = 'survival' | 'density';

const MAX_TERMS = 4000;
/** Stop once a term's magnitude bound is below this fraction of the partial sum. */
const RELATIVE_STOP = 1e-17;
/** Σ|terms| may exceed |sum| by at most this factor (at most 3 digits lost to cancellation). */
const MAX_CANCELLATION = 1e3;

/** log of |Γ(αk)/k!·x^{-αk}| (survival) or |Γ(αk+1)/k!·x^{-αk-1}| (density), the term without its sine. */
function logTermBound(kind: TailKind, k: number, alpha: number, logX: number): number {
  const ak = alpha * k;
  if (kind === 'survival') return logGamma(ak) - logGamma(k + 1) - ak * logX;
  return logGamma(ak + 1) - logGamma(k + 1) - (ak + 1) * logX;
}

/**
 * The tail series at x > 0, or undefined where it cannot deliver full precision: the terms' bound
 * Γ(αk)/k!·x^{-αk} (the remainder's size for the asymptotic case) must fall below 1e-17 of the sum before
 * the terms start to grow (α > 1), within MAX_TERMS, and without losing more than 3 digits to cancellation.
 */
export function stableTailSeries(kind: TailKind, x: number, alpha: number): number | undefined {
  if (!(x > 0) || alpha === 2) return undefined; // at α = 2 every term vanishes: the Gaussian tail is beyond all orders
  const logX = Math.log(x);
  let sum = 0;
  let absSum = 0;
  let previousLogBound = Infinity;
  for (let k = 1; k <= MAX_TERMS; k++) {
    const logBound = logTermBound(kind, k, alpha, logX);
    if (logBound > 700) return undefined; // terms this large cancel hopelessly
    if (alpha > 1 && logBound > previousLogBound) return undefined; // past the asymptotic series' smallest term
    previousLogBound = logBound;
    const bound = Math.exp(logBound);
    const term = (k % 2 === 1 ? 1 : -1) * bound * Math.sin((Math.PI * k * alpha) / 2);
    sum += term;
    absSum += Math.abs(term);
    if (k >= 2 && bound <= RELATIVE_STOP * Math.abs(sum)) {
      return absSum <= MAX_CANCELLATION * Math.abs(sum) ? sum / Math.PI : undefined;
    }
  }
  return undefined;
}
