// The Diagnostics result: per lag, everything the statistics stage consumes (SPEC §5–§7), serialisable to JSON.
import type { PsiLag } from './psi.ts';
import type { TransportAgreement } from './correlation.ts';

export interface LagDiagnostics {
  ell: number;
  /** f̂(ℓ), `mu_l1_mean`. */
  muL1Mean: number;
  logMuL1Mean: number;
  /** μ^(q)(ℓ) per unit. */
  perUnit: number[];
  /** f̃(ℓ) and its decomposition η̄·f̂ + mean((ρ_q − η̄)|μ_q|), when ρ was computed. */
  generalized?: { mean: number; etaBarTerm: number; spreadTerm: number };
  /** f_exact(ℓ) from the sampled transport pairs (NaN where none has t ≥ ℓ). */
  exact?: number;
  /** m̄(ℓ) = |mean ψ| over all samples, the raw mean and the orientation applied. */
  mbar: number;
  psiMean: number;
  psiSign: 1 | -1;
  /** ψ samples (sequences × (T − ℓ)) and the oriented uniform subsample the estimators use. */
  count: number;
  psiSubsample: Float32Array;
}

export interface Diagnostics {
  cell: string;
  firstOrder: boolean;
  sequences: number;
  steps: number;
  hidden: number;
  etaBar?: number;
  perLag: LagDiagnostics[];
  transport?: { samples: number; agreement: TransportAgreement };
  memory: { budget: number; batch: number; perSequence: number; peakBytes: number };
  seconds: number;
}

export interface EnvelopeLag {
  ell: number;
  muL1Mean: number;
  logMuL1Mean: number;
  perUnit: ArrayLike<number>;
  generalized?: { mean: number; etaBarTerm: number; spreadTerm: number };
}

export function buildDiagnostics(parts: {
  cell: string;
  lags: readonly number[];
  firstOrder: boolean;
  sequences: number;
  steps: number;
  hidden: number;
  envelopes: { lags: EnvelopeLag[] };
  psi: PsiLag[];
  transport?: { exactEnvelope: Float64Array; pairs: unknown[]; agreement: TransportAgreement };
  etaBar?: number;
  memory: Diagnostics['memory'];
  seconds: number;
}): Diagnostics {
  const perLag = parts.lags.map((ell, l): LagDiagnostics => {
    const env = parts.envelopes.lags[l]!;
    const psi = parts.psi[l]!;
    if (env.ell !== ell || psi.ell !== ell) throw new Error(`diagnostics: lag ${ell} out of order (envelope ${env.ell}, ψ ${psi.ell})`);
    return {
      ell, muL1Mean: env.muL1Mean, logMuL1Mean: env.logMuL1Mean, perUnit: Array.from(env.perUnit),
      ...(env.generalized && { generalized: env.generalized }),
      ...(parts.transport && { exact: parts.transport.exactEnvelope[l]! }),
      mbar: psi.mbar, psiMean: psi.mean, psiSign: psi.sign, count: psi.count, psiSubsample: psi.subsample,
    };
  });
  return {
    cell: parts.cell, firstOrder: parts.firstOrder, sequences: parts.sequences, steps: parts.steps, hidden: parts.hidden,
    ...(parts.etaBar !== undefined && { etaBar: parts.etaBar }),
    perLag,
    ...(parts.transport && { transport: { samples: parts.transport.pairs.length, agreement: parts.transport.agreement } }),
    memory: parts.memory, seconds: parts.seconds,
  };
}

/** JSON text of a Diagnostics object: typed arrays as plain arrays, non-finite numbers as null. */
export function diagnosticsToJSON(d: Diagnostics): string {
  return JSON.stringify(d, (_key, value) => (value instanceof Float32Array || value instanceof Float64Array ? Array.from(value) : value));
}

export function diagnosticsFromJSON(text: string): Diagnostics {
  const raw = JSON.parse(text) as Diagnostics;
  for (const lag of raw.perLag) lag.psiSubsample = Float32Array.from(lag.psiSubsample as unknown as number[]);
  return raw;
}
