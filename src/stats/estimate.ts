// Tail index and scale of ψ samples by a chosen estimator, with SPEC §8's reliability flag.
import { finiteSamples, interquartileRange, sortedCopy } from './empirical.ts';
import { ecfEstimate } from './ecf.ts';
import { koutrouvelisEstimate } from './koutrouvelis.ts';
import { mccullochFromSorted } from './mcculloch.ts';

export const ALPHA_METHODS = ['mcculloch', 'ecf', 'koutrouvelis'] as const;
export type AlphaMethod = (typeof ALPHA_METHODS)[number];

/** SPEC §8: below this many samples the estimate is (2, 0) and unreliable. */
export const MIN_ALPHA_SAMPLES = 500;
/** SPEC §8: an α̂ within 0.01 of a bound is trusted only from this many samples on. */
export const BOUND_TRUST_SAMPLES = 2000;
const ALPHA_BOUNDS = [1, 2] as const;

export interface StableEstimate {
  /** The estimator asked for. */
  method: AlphaMethod;
  /** The estimator that produced the numbers (ECF and Koutrouvelis fall back to McCulloch when they cannot run). */
  methodUsed: AlphaMethod;
  alpha: number;
  sigma: number;
  alphaReliable: boolean;
  /** Finite samples used (non-finite ones are refused unless dropped on request; see EstimateOptions). */
  nSamples: number;
  nonFinite: number;
  iqr: number;
  /** Why the estimate is unreliable, or which fallback ran; empty when neither. */
  notes: string[];
}

export function parseAlphaMethod(name: string): AlphaMethod {
  const method = ALPHA_METHODS.find((m) => m === name.toLowerCase());
  if (!method) throw new Error(`unknown tail-index method '${name}': use one of ${ALPHA_METHODS.join(', ')}`);
  return method;
}

/** SPEC §8 reliability rules; returns the reasons an estimate is unreliable (empty: reliable). */
export function unreliabilityReasons(alpha: number, sigma: number, iqr: number, nSamples: number): string[] {
  const reasons: string[] = [];
  if (nSamples < MIN_ALPHA_SAMPLES) reasons.push(`only ${nSamples} samples (at least ${MIN_ALPHA_SAMPLES} needed)`);
  if (!(sigma > 1e-12)) reasons.push(`scale estimate ${sigma} is at most 1e-12`);
  if (!(iqr > 1e-10)) reasons.push(`interquartile range ${iqr} is at most 1e-10`);
  const nearBound = ALPHA_BOUNDS.find((bound) => Math.abs(alpha - bound) < 0.01);
  if (nearBound !== undefined && nSamples < BOUND_TRUST_SAMPLES) {
    reasons.push(`alpha ${alpha.toFixed(4)} is within 0.01 of its bound ${nearBound} with fewer than ${BOUND_TRUST_SAMPLES} samples`);
  }
  return reasons;
}

function runMethod(method: AlphaMethod, samples: Float64Array, sorted: Float64Array, notes: string[]) {
  const mcculloch = mccullochFromSorted(sorted);
  const fallback = { alpha: mcculloch.alpha, sigma: mcculloch.sigma, methodUsed: 'mcculloch' as AlphaMethod };
  if (method === 'mcculloch') return fallback;
  const result = method === 'ecf' ? ecfEstimate(samples, sorted) : koutrouvelisEstimate(samples, mcculloch);
  if (result) return { alpha: result.alpha, sigma: result.sigma, methodUsed: method };
  notes.push(`${method} had fewer than 3 usable characteristic-function points; McCulloch's estimate is used`);
  return fallback;
}

export class NonFiniteSamplesError extends Error {
  constructor(
    readonly nan: number,
    readonly infinite: number,
    readonly total: number,
  ) {
    super(
      `${nan + infinite} of ${total} samples are not finite (${nan} NaN, ${infinite} ±Infinity); ` +
        'a tail-index estimate from them would be meaningless. Find where they come from (a diverged run, a bad file), ' +
        "or pass { nonFinite: 'drop' } to estimate from the finite ones as the reference code does.",
    );
  }
}

export interface EstimateOptions {
  /** 'reject' (default): throw NonFiniteSamplesError naming the counts; 'drop': ignore them, as the reference. */
  nonFinite?: 'reject' | 'drop';
}

/** α̂, σ̂ and the reliability flag of the symmetric α-stable law fitted to `samples` (SPEC §8). */
export function estimateStable(samples: ArrayLike<number>, method: AlphaMethod = 'ecf', options: EstimateOptions = {}): StableEstimate {
  const finite = finiteSamples(samples);
  const nSamples = finite.length;
  const nonFinite = samples.length - nSamples;
  if (nonFinite > 0 && (options.nonFinite ?? 'reject') === 'reject') {
    let nan = 0;
    for (let i = 0; i < samples.length; i++) if (Number.isNaN(samples[i]!)) nan++;
    throw new NonFiniteSamplesError(nan, nonFinite - nan, samples.length);
  }
  if (nSamples < MIN_ALPHA_SAMPLES) {
    const notes = unreliabilityReasons(2, 0, NaN, nSamples).slice(0, 1);
    return { method, methodUsed: method, alpha: 2, sigma: 0, alphaReliable: false, nSamples, nonFinite, iqr: NaN, notes };
  }
  const sorted = sortedCopy(finite);
  const iqr = interquartileRange(sorted);
  const notes: string[] = [];
  const { alpha, sigma, methodUsed } = runMethod(method, finite, sorted, notes);
  const reasons = unreliabilityReasons(alpha, sigma, iqr, nSamples);
  return { method, methodUsed, alpha, sigma, alphaReliable: reasons.length === 0, nSamples, nonFinite, iqr, notes: [...reasons, ...notes] };
}
