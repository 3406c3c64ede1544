// The statistics stage of a study (SPEC §8, §9): one cell's Diagnostics in, a plain serialisable CellStatistics out.
// In order:
//   1. per lag, α̂ and σ̂ of the oriented ψ subsample by the chosen estimator (SPEC §8), with m̄ the exact |mean ψ|,
//   2. per lag, N_required at ε over the budgets N_use = min(N, n_ψ(ℓ)), and best_snr / best_N / err
//      (lwin's definitions, detection.ts),
//   3. the learnability windows Ĥ_N and the contiguous window for every budget N (SPEC §8, Eq. 29),
//   4. the fits of SPEC §9 (cell-fits.ts), and the transport agreement of SPEC §6 passed through.
import type { Diagnostics, LagDiagnostics } from '../diagnostics/result.ts';
import type { TransportAgreement } from '../diagnostics/correlation.ts';
import { estimateStable, type AlphaMethod } from '../stats/estimate.ts';
import { detectability, kappaAlpha, requiredSamples, type LagStatistics } from '../stats/detectability.ts';
import type { MasterProportionality } from '../stats/fits/master.ts';
import { bestSignal } from './detection.ts';
import {
  asymptoticLaws,
  envelopeFits,
  masterProportionality,
  unitTimescales,
  type AsymptoticSummary,
  type EnvelopeFits,
  type Timescales,
} from './cell-fits.ts';

export interface AnalyzeOptions {
  alphaMethod: AlphaMethod;
  /** The budget grid N of SPEC §8 (any order; sorted ascending here). */
  budgets: readonly number[];
  /** The SNR threshold ε. */
  eps: number;
  /** The const cell's fixed gate s, for ConstGate's closed-form τ; ignored for other cells (there it is only an initial value). */
  constS?: number;
  /**
   * Non-finite ψ samples (a diverged model): 'drop' (default) estimates from the finite ones, as the reference,
   * and counts them in `nonFinite`; 'reject' throws, naming the lag.
   */
  nonFinite?: 'drop' | 'reject';
}

/** One row of `<cell>_summary.csv` and what goes with it. */
export interface LagRow {
  ell: number;
  muL1Mean: number;
  logMuL1Mean: number;
  alphaHat: number;
  sigmaHat: number;
  alphaReliable: boolean;
  /** The estimator that produced α̂, σ̂ (ECF and Koutrouvelis fall back to McCulloch when they cannot run). */
  alphaMethod: AlphaMethod;
  /** Why α̂ is unreliable or which fallback ran. */
  alphaNotes: string[];
  /** All ψ samples of the lag (sequences × (T-ℓ)): the cap of N_use and the summary's `n_samples`. */
  nSamples: number;
  /** Finite subsample values the estimator used, and the non-finite ones it dropped. */
  nEstimated: number;
  nonFinite: number;
  /** m̄(ℓ) = |mean ψ| over all samples (SPEC §7). */
  mbar: number;
  /** κ_α(ℓ) = α̂/(α̂-1) (+∞ for α̂ ≤ 1). */
  kappa: number;
  /** N_required at ε (may be n_ψ(ℓ), outside the grid), -1 if no N_use reaches SNR > ε. */
  nRequired: number;
  bestSnr: number;
  errAtBestSnr: number;
  /** best_N_for_ell, -1 if none. */
  bestNForEll: number;
  generalized?: { mean: number; etaBarTerm: number; spreadTerm: number };
  exact?: number;
}

export interface WindowRow {
  budget: number;
  /** Ĥ_N (Eq. 29), 0 if no lag is detectable with N. */
  window: number;
  /** The largest ℓ with every grid lag ≤ ℓ detectable with N. */
  contiguousWindow: number;
}

export interface CellStatistics {
  cell: string;
  /** The estimator asked for; each lag's `alphaMethod` says which one ran. */
  alphaMethod: AlphaMethod;
  eps: number;
  budgets: number[];
  hidden: number;
  lags: LagRow[];
  windows: WindowRow[];
  envelope: EnvelopeFits;
  timescales: Timescales;
  master: MasterProportionality;
  asymptotic: AsymptoticSummary;
  transport?: { samples: number; agreement: TransportAgreement };
}

function checkOptions(options: AnalyzeOptions): number[] {
  if (!(options.eps > 0)) throw new Error(`statistics: eps must be a positive SNR threshold, got ${options.eps}`);
  const bad = options.budgets.find((n) => !(Number.isInteger(n) && n > 0));
  if (bad !== undefined) throw new Error(`statistics: every budget N must be a positive integer, got ${bad}`);
  if (options.budgets.length === 0) throw new Error('statistics: the budget grid is empty; give at least one N (SPEC §8: 25,50,…,12800)');
  return [...options.budgets].sort((a, b) => a - b);
}

/** α̂, σ̂, m̄ and the detectability columns of one lag. */
function analyzeLag(lag: LagDiagnostics, budgets: readonly number[], options: AnalyzeOptions, cell: string): LagRow {
  let estimate;
  try {
    estimate = estimateStable(lag.psiSubsample, options.alphaMethod, { nonFinite: options.nonFinite ?? 'drop' });
  } catch (error) {
    throw new Error(`statistics: cell ${cell}, lag ${lag.ell}: ${(error as Error).message}`);
  }
  const table: LagStatistics = {
    ell: lag.ell, fHat: lag.muL1Mean, mBar: lag.mbar, alphaHat: estimate.alpha, sigmaHat: estimate.sigma, nSamples: lag.count,
  };
  const nRequired = requiredSamples(table, { budgets, epsilon: options.eps });
  const best = bestSignal({ ...table, psi: lag.psiSubsample }, budgets);
  const row: LagRow = {
    ell: lag.ell,
    muL1Mean: lag.muL1Mean,
    logMuL1Mean: lag.logMuL1Mean,
    alphaHat: estimate.alpha,
    sigmaHat: estimate.sigma,
    alphaReliable: estimate.alphaReliable,
    alphaMethod: estimate.methodUsed,
    alphaNotes: estimate.notes,
    nSamples: lag.count,
    nEstimated: estimate.nSamples,
    nonFinite: estimate.nonFinite,
    mbar: lag.mbar,
    kappa: kappaAlpha(estimate.alpha),
    nRequired,
    bestSnr: best.bestSnr,
    errAtBestSnr: best.errAtBestSnr,
    bestNForEll: best.bestN,
  };
  if (lag.generalized) row.generalized = { ...lag.generalized };
  if (lag.exact !== undefined) row.exact = lag.exact;
  return row;
}

/** The statistics stage for one cell (SPEC §8, §9). */
export function analyzeDiagnostics(d: Diagnostics, options: AnalyzeOptions): CellStatistics {
  const budgets = checkOptions(options);
  if (d.perLag.length === 0) throw new Error(`statistics: cell ${d.cell} has no lags; the diagnostic stage needs a lag grid (SPEC §10)`);
  const lags = d.perLag.map((lag) => analyzeLag(lag, budgets, options, d.cell));
  const table = lags.map((r): LagStatistics => ({
    ell: r.ell, fHat: r.muL1Mean, mBar: r.mbar, alphaHat: r.alphaHat, sigmaHat: r.sigmaHat, nSamples: r.nSamples,
  }));
  const windows = detectability(table, { budgets, epsilon: options.eps }).windows.map((w) => ({
    budget: w.budget, window: w.window, contiguousWindow: w.contiguousWindow,
  }));
  const ells = lags.map((r) => r.ell);
  const envelope = envelopeFits(ells, lags.map((r) => r.logMuL1Mean));
  const constS = d.cell === 'const' ? options.constS : undefined;
  const stats: CellStatistics = {
    cell: d.cell,
    alphaMethod: options.alphaMethod,
    eps: options.eps,
    budgets,
    hidden: d.hidden,
    lags,
    windows,
    envelope,
    timescales: unitTimescales(ells, d.perLag.map((lag) => lag.perUnit), constS),
    master: masterProportionality(lags),
    asymptotic: asymptoticLaws(envelope.regimes, lags, budgets),
  };
  if (d.transport) stats.transport = { samples: d.transport.samples, agreement: { ...d.transport.agreement } };
  return stats;
}
