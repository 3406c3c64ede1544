// Gil-Pelaez inversion of the standard (σ = 1) symmetric α-stable characteristic function e^{-|t|^α} (SPEC §11):
//   F(x) - 1/2 = (1/π) ∫₀^∞ sin(tx) e^{-t^α} / t dt,     f(x) = (1/π) ∫₀^∞ cos(tx) e^{-t^α} dt.
// The body of the law (and any x where the tail series will not do) is integrated here.
import { gaussLegendre, integratePanel } from './quadrature.ts';

const RULE_ORDER = 20;
/** e^{-45} ≈ 3e-20: the integrand past T = 45^{1/α} is below anything double precision can see. */
const TRUNCATION_EXPONENT = 45;

export type GilPelaezKind = 'cdf' | 'pdf';

function integrand(kind: GilPelaezKind, x: number, alpha: number): (t: number) => number {
  if (kind === 'pdf') return (t) => Math.cos(t * x) * Math.exp(-Math.pow(t, alpha));
  // sin(tx)/t → x as t → 0; nodes never sit at 0, but keep the limit for safety.
  return (t) => (t === 0 ? x : (Math.sin(t * x) / t) * Math.exp(-Math.pow(t, alpha)));
}

/**
 * Panel edges on [0, T]. Near 0, e^{-t^α} has the non-analytic term t^α, which Gauss–Legendre resolves only on
 * geometrically graded panels [h/2^{k+1}, h/2^k] (each then sees a singularity 3 half-widths away: error ~5.8^{-40}).
 * The innermost panel [0, h/2^K] contributes an error ~(h/2^K)^{1+α}, so K(1+α) ≥ 60 suffices.
 * Beyond h, panels are at most π/x wide (half a period of the oscillation, SPEC §11) and at most max(1, t/4),
 * which follows the slow decay of e^{-t^α} for α < 1 without thousands of unit panels.
 */
export function gilPelaezPanels(x: number, alpha: number): number[] {
  const truncation = Math.pow(TRUNCATION_EXPONENT, 1 / alpha);
  const halfPeriod = x > 0 ? Math.PI / x : Infinity;
  const first = Math.min(1, halfPeriod, truncation);
  const levels = Math.ceil(60 / (1 + alpha));
  const edges = [0];
  for (let k = levels; k >= 1; k--) edges.push(first / 2 ** k);
  edges.push(first);
  let t = first;
  while (t < truncation) {
    const width = Math.min(halfPeriod, Math.max(1, t / 4));
    t = Math.min(truncation, t + width);
    edges.push(t);
  }
  return edges;
}

/** (1/π)·∫₀^∞ of the Gil-Pelaez integrand: F(x) - 1/2 for kind 'cdf', f(x) for kind 'pdf' (σ = 1, x ≥ 0). */
export function gilPelaez(kind: GilPelaezKind, x: number, alpha: number): number {
  const rule = gaussLegendre(RULE_ORDER);
  const g = integrand(kind, x, alpha);
  const edges = gilPelaezPanels(x, alpha);
  let sum = 0;
  let compensation = 0; // Kahan: thousands of alternating panels at large x
  for (let i = 1; i < edges.length; i++) {
    const y = integratePanel(g, edges[i - 1]!, edges[i]!, rule) - compensation;
    const next = sum + y;
    compensation = next - sum - y;
    sum = next;
  }
  return sum / Math.PI;
}
