// The fits of SPEC §9 over one cell's per-lag table: envelope regimes, per-unit time scales with their summary and
// CCDF, ConstGate's closed form, master proportionality and the asymptotic-law predictions.
import { quantileSorted, standardDeviation } from '../stats/empirical.ts';
import { kappaAlpha } from '../stats/detectability.ts';
import { fitEnvelopeRegimes, type EnvelopeRegimes } from '../stats/fits/envelope.ts';
import { fitUnitTimescales, timescaleCcdf, constGateTimescale, type TimescaleCcdf, type UnitTimescale as UnitFit } from '../stats/fits/timescales.ts';
import { fitMasterProportionality, type MasterProportionality } from '../stats/fits/master.ts';
import { asymptoticPrediction, envelopeLaw, fitPrefactor, type AsymptoticPrediction, type EnvelopeLaw } from '../stats/fits/asymptotic.ts';

export interface EnvelopeFits {
  /** Undefined when the fit could not run (fewer than 3 lags with a finite log envelope); `error` says why. */
  regimes?: EnvelopeRegimes;
  error?: string;
}

export function envelopeFits(ells: readonly number[], logEnvelope: readonly number[]): EnvelopeFits {
  try {
    return { regimes: fitEnvelopeRegimes(ells, logEnvelope) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** One unit's fit (stats/fits/timescales.ts: τ_q = -1/b, C = e^a, the line a + bℓ, R², lags used), with its index. */
export interface UnitTimescale extends UnitFit {
  unit: number;
}

/** Summary of the per-unit τ. Moments and quantiles are over the finite τ (NaN when there is none). */
export interface TimescaleSummary {
  units: number;
  /** Units with a fit (finite or infinite τ), the reference's `num_units`. */
  fitted: number;
  finite: number;
  /** Fitted units whose envelope does not decay (τ = ∞). */
  infinite: number;
  /** Units with fewer than 5 lags where μ^(q) > 0. */
  unfit: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation, as numpy.std. */
  std: number;
  median: number;
  /** Quantiles by linear interpolation (numpy's default). */
  q10: number;
  q25: number;
  q75: number;
  q90: number;
}

export interface Timescales {
  units: UnitTimescale[];
  summary: TimescaleSummary;
  ccdf: TimescaleCcdf;
  /** ConstGate's closed form τ = -1/log(1-s), for the const cell when its gate was given. */
  constGate?: { s: number; leak: number; tau: number };
}

export function summarizeTimescales(taus: readonly number[]): TimescaleSummary {
  const fittedTaus = taus.filter((t) => !Number.isNaN(t));
  const finite = Float64Array.from(fittedTaus.filter(Number.isFinite)).sort();
  const none = finite.length === 0;
  let sum = 0;
  for (const t of finite) sum += t;
  const q = (p: number) => quantileSorted(finite, p);
  return {
    units: taus.length,
    fitted: fittedTaus.length,
    finite: finite.length,
    infinite: fittedTaus.length - finite.length,
    unfit: taus.length - fittedTaus.length,
    min: none ? NaN : finite[0]!,
    max: none ? NaN : finite[finite.length - 1]!,
    mean: none ? NaN : sum / finite.length,
    std: none ? NaN : standardDeviation(finite),
    median: q(0.5),
    q10: q(0.1),
    q25: q(0.25),
    q75: q(0.75),
    q90: q(0.9),
  };
}

/** SPEC §9's per-unit fits from μ^(q)(ℓ) (`perUnit[i][q]` at lag `ells[i]`). */
export function unitTimescales(ells: readonly number[], perUnit: readonly ArrayLike<number>[], constS?: number): Timescales {
  const fits = fitUnitTimescales(ells, perUnit);
  const units = fits.tau.map((tau, unit) => ({
    unit, tau, amplitude: fits.amplitude[unit]!, intercept: fits.intercept[unit]!, slope: fits.slope[unit]!, r2: fits.r2[unit]!, lagsUsed: fits.lagsUsed[unit]!,
  }));
  const result: Timescales = { units, summary: summarizeTimescales(fits.tau), ccdf: timescaleCcdf(fits.tau) };
  if (constS !== undefined) result.constGate = { s: constS, leak: 1 - constS, tau: constGateTimescale(constS) };
  return result;
}

export interface MasterInputRow {
  ell: number;
  muL1Mean: number;
  alphaHat: number;
  nRequired: number;
}

export function masterProportionality(rows: readonly MasterInputRow[]): MasterProportionality {
  return fitMasterProportionality(rows.map((r) => ({ ell: r.ell, fHat: r.muL1Mean, alphaHat: r.alphaHat, nRequired: r.nRequired })));
}

export interface AsymptoticSummary {
  /**
   * The single α that the laws of SPEC §9 assume: the median α̂ over the lags with a reliable α̂ > 1 (the laws need
   * κ_α = α/(α-1) finite); NaN when no lag qualifies, and then there are no predictions.
   */
  alpha: number;
  kappa: number;
  lagsUsed: number;
  /** One per fitted decaying regime (exponential, power, logarithmic), prefactor A fitted to the observed N_required. */
  predictions: AsymptoticPrediction[];
  notes: string[];
}

export interface AsymptoticInputRow {
  ell: number;
  alphaHat: number;
  alphaReliable: boolean;
  nRequired: number;
}

function lawRate(law: EnvelopeLaw): number {
  return law.law === 'exponential' ? law.lambda : law.law === 'power' ? law.beta : law.gamma;
}

export function asymptoticLaws(regimes: EnvelopeRegimes | undefined, rows: readonly AsymptoticInputRow[], budgets: readonly number[]): AsymptoticSummary {
  const alphas = Float64Array.from(rows.filter((r) => r.alphaReliable && r.alphaHat > 1).map((r) => r.alphaHat)).sort();
  const alpha = quantileSorted(alphas, 0.5);
  const summary: AsymptoticSummary = { alpha, kappa: kappaAlpha(alpha), lagsUsed: alphas.length, predictions: [], notes: [] };
  if (alphas.length === 0) summary.notes.push('no lag has a reliable α̂ > 1: κ_α is not finite, so the laws predict nothing');
  if (!regimes) summary.notes.push('the envelope was not fitted');
  else if (regimes.preferred === 'none') summary.notes.push(regimes.note ?? 'the envelope does not decay');
  if (summary.notes.length > 0) return summary;
  const ells = rows.map((r) => r.ell);
  const nRequired = rows.map((r) => r.nRequired);
  if (!nRequired.some((n) => n > 0)) summary.notes.push('no lag is detectable: the prefactors A are NaN');
  for (const name of ['exponential', 'power', 'logarithmic'] as const) {
    const law = envelopeLaw(regimes!, name);
    if (!law) continue;
    if (!(lawRate(law) > 0)) {
      summary.notes.push(`the ${name} fit does not decay (rate ${lawRate(law)}): no prediction`);
      continue;
    }
    summary.predictions.push(asymptoticPrediction(law, summary.kappa, ells, budgets, fitPrefactor(law, summary.kappa, ells, nRequired)));
  }
  return summary;
}
