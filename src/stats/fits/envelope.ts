// Envelope regimes (SPEC §9): straight lines through log_mu_l1_mean against ℓ (exponential decay),
// against log ℓ (power law) and, for the logarithmic law of §5.5, against log log ℓ.
import { fitLine, type LineFit } from '../regression.ts';

export interface ExponentialEnvelopeFit extends LineFit {
  /** τ_env = -1/slope, +∞ when the slope is ≥ 0 (no decay). */
  tauEnv: number;
  /** Decay rate λ = -slope of f ~ e^{-λℓ}. */
  lambda: number;
}

export interface PowerEnvelopeFit extends LineFit {
  /** Exponent β = -slope of f ~ ℓ^{-β}. */
  beta: number;
}

export interface LogarithmicEnvelopeFit extends LineFit {
  /** Exponent γ = -slope of f ~ (log ℓ)^{-γ}. */
  gamma: number;
}

export interface EnvelopeRegimes {
  /** log f = a + bℓ (intercept a, slope b). */
  exponential: ExponentialEnvelopeFit;
  /** log f = c + d log ℓ (intercept c, slope d). */
  power: PowerEnvelopeFit;
  /** log f = c - γ log log ℓ over lags ℓ > 1; undefined with fewer than 3 such lags. */
  logarithmic: LogarithmicEnvelopeFit | undefined;
  /**
   * The regime of exponential and power with the lower AIC (both use the same points); 'none' when the envelope
   * is flat over the lags (e.g. all zero, at the log floor), where neither decay law says anything.
   */
  preferred: 'exponential' | 'power' | 'none';
  /** Why the fit is degenerate, when it is. */
  note?: string;
}

/** The floor of log_mu_l1_mean = log(mass + 1e-30) (SPEC §5): a lag whose envelope is exactly zero. */
export const LOG_ENVELOPE_FLOOR = Math.log(1e-30);

/** Fits the regimes over lags ℓ > 0 with a finite log envelope; needs at least 3 such lags. */
export function fitEnvelopeRegimes(ells: ArrayLike<number>, logEnvelope: ArrayLike<number>): EnvelopeRegimes {
  if (ells.length !== logEnvelope.length) {
    throw new Error(`envelope fit: ${ells.length} lags but ${logEnvelope.length} log_mu_l1_mean values`);
  }
  const keep = [...Array(ells.length).keys()].filter((i) => ells[i]! > 0 && Number.isFinite(logEnvelope[i]!));
  if (keep.length < 3) throw new Error(`envelope fit: needs at least 3 lags with ℓ > 0 and a finite log_mu_l1_mean, got ${keep.length}`);
  const ell = keep.map((i) => ells[i]!);
  const y = keep.map((i) => logEnvelope[i]!);
  const exponentialLine = fitLine(ell, y);
  const exponential = {
    ...exponentialLine,
    tauEnv: exponentialLine.slope < 0 ? -1 / exponentialLine.slope : Infinity,
    lambda: -exponentialLine.slope,
  };
  const powerLine = fitLine(ell.map(Math.log), y);
  const power = { ...powerLine, beta: -powerLine.slope };
  const longer = keep.filter((_, j) => ell[j]! > 1);
  let logarithmic: LogarithmicEnvelopeFit | undefined;
  if (longer.length >= 3) {
    const line = fitLine(longer.map((i) => Math.log(Math.log(ells[i]!))), longer.map((i) => logEnvelope[i]!));
    logarithmic = { ...line, gamma: -line.slope };
  }
  const flat = Math.max(...y) - Math.min(...y) <= 1e-12 * Math.max(1, Math.abs(y[0]!));
  if (flat) {
    const zero = y.every((v) => v <= LOG_ENVELOPE_FLOOR + 1e-9);
    const note = zero ? 'the envelope is zero at every lag (log floor 1e-30): no decay to fit' : 'the envelope is constant over the lags: no decay to fit';
    return { exponential, power, logarithmic, preferred: 'none', note };
  }
  return { exponential, power, logarithmic, preferred: power.aic < exponential.aic ? 'power' : 'exponential' };
}
